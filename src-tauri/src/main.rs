//! The `rounds-field` binary: the desktop entry point of the field app. Everything is in
//! [`rounds_field_lib`], which the mobile targets load as a library instead.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    rounds_field_lib::run();
}
