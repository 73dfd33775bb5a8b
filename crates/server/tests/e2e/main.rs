//! End-to-end tests: a real district server on 127.0.0.1:0 (in-process, or the real binary for
//! the kill and sign-in tests), real HTTP, and device stores on real files in temporary folders.

mod audit;
mod authz;
mod backup;
mod bad_input;
mod compaction;
mod console;
mod device_events;
mod district;
mod evidence;
mod faults;
mod kill;
mod leaks;
mod migrate;
mod photos;
mod rules;
mod shared_phone;
mod shutdown;
mod sign_in;
mod signing;
mod support;
mod sync;
mod wipe;
