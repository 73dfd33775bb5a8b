//! Set-up chores for a field device's data folder, without the UI.
//!
//! - `rounds-device enroll --data DIR --server URL --code CODE --username U --password P --pin PIN`
//!   enrolls the folder with the district server exactly as the first-run screen does (the
//!   README's run command uses it so the app opens enrolled into the demo district).
//! - `rounds-device fill-incidents --data DIR --pin PIN --count N` files N incidents as the
//!   first person of the folder, to measure the app's lists at 10,000 records.

#![allow(clippy::print_stdout, reason = "an edge program: reports what it did")]

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use rounds_app::App;
use rounds_app::app::{EnrollArgs, UnlockArgs};
use rounds_app::env::RealEnv;
use rounds_app::records::FileIncidentArgs;
use rounds_core::model::IncidentType;

#[derive(Parser)]
#[command(about = "Set-up chores for a Rounds field device's data folder")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll the folder with a district server and set the first person up.
    Enroll {
        /// The data folder.
        #[arg(long)]
        data: PathBuf,
        /// The district server.
        #[arg(long)]
        server: String,
        /// One-time enrollment code.
        #[arg(long)]
        code: String,
        /// The device's name.
        #[arg(long, default_value = "Demo post phone")]
        name: String,
        /// Username.
        #[arg(long)]
        username: String,
        /// Password.
        #[arg(long)]
        password: String,
        /// PIN for this device.
        #[arg(long)]
        pin: String,
    },
    /// File incidents as the folder's first person (for list measurements).
    FillIncidents {
        /// The data folder.
        #[arg(long)]
        data: PathBuf,
        /// Their PIN.
        #[arg(long)]
        pin: String,
        /// How many.
        #[arg(long)]
        count: u32,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Enroll {
            data,
            server,
            code,
            name,
            username,
            password,
            pin,
        } => {
            let app = App::new(&data, Arc::new(RealEnv))?;
            let state = app.enroll(EnrollArgs {
                server,
                code,
                device_name: name,
                username,
                password,
                pin,
            })?;
            let me = state.me.map(|m| m.name).unwrap_or_default();
            println!("enrolled {} for {me}", data.display());
            app.lock()?;
        }
        Command::FillIncidents { data, pin, count } => {
            let app = App::new(&data, Arc::new(RealEnv))?.without_background_sync();
            let person = app
                .state()?
                .people
                .first()
                .map(|p| p.id)
                .ok_or("the folder is not enrolled")?;
            app.unlock(UnlockArgs {
                person_id: person,
                pin,
            })?;
            let types = IncidentType::ALL;
            for i in 0..count {
                app.file_incident(FileIncidentArgs {
                    school_id: None,
                    incident_type: types[i as usize % types.len()],
                    location: format!("Room {}", 100 + i % 250),
                    occurred_at: None,
                    people: vec![],
                    narrative: format!("Filed for the list measurement, number {i}."),
                    actions: String::new(),
                    photos: vec![],
                    submit: i % 3 != 0,
                })?;
            }
            println!("filed {count} incidents in {}", data.display());
            app.lock()?;
        }
    }
    Ok(())
}
