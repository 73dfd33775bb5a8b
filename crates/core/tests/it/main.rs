//! Integration tests of the device store on real SQLite (SQLCipher) files in temporary
//! folders. Modules mirror the features.

mod actions;
mod bad_inputs;
mod convergence;
mod crash;
mod merge;
mod photos;
mod projections;
mod queries;
mod races;
mod signing;
mod support;
