//! Commands by name, for the test bridge: `dispatch(app, "record_check", json)`.
//!
//! The commands are those of [`crate::for_each_command`], the one list the Tauri shell expands
//! too (into a function per command, so that capabilities can grant them one by one).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::App;
use crate::error::{AppError, Result};

fn args<T: DeserializeOwned>(v: Value) -> Result<T> {
    // `null` (no body) reads as an empty object, so commands without arguments accept both.
    let v = if v.is_null() {
        Value::Object(Default::default())
    } else {
        v
    };
    serde_json::from_value(v).map_err(|e| AppError::invalid("args", format!("{e}")))
}

fn out<T: Serialize>(r: Result<T>) -> Result<Value> {
    r.and_then(|v| serde_json::to_value(v).map_err(|e| AppError::internal("answering", e)))
}

macro_rules! commands {
    ($( $name:ident $(($arg:ty))? ),+ $(,)?) => {
        /// Every command the UI may call.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),+];

        /// Runs the command `name` with JSON arguments.
        pub fn dispatch(app: &App, name: &str, v: Value) -> Result<Value> {
            match name {
                $(stringify!($name) => commands!(@call app, $name, v $(, $arg)?),)+
                other => Err(AppError::new(
                    crate::error::Kind::NotFound,
                    format!("There is no command {other:?}."),
                )),
            }
        }
    };
    (@call $app:ident, $name:ident, $v:ident) => {{
        let _ = $v;
        out($app.$name())
    }};
    (@call $app:ident, $name:ident, $v:ident, $arg:ty) => {
        out($app.$name(args::<$arg>($v)?))
    };
}

use crate::app::{AddPersonArgs, ChangePinArgs, EnrollArgs, SignInArgs, UnlockArgs};
use crate::records::{
    EditIncidentArgs, EditNoteArgs, FileIncidentArgs, FindTagArgs, IdArgs, IncidentsArgs,
    NotesArgs, PhotoArgs, PhotoHashArgs, RecordCheckArgs, SearchArgs, StartShiftArgs,
    SupplementArgs, WriteNoteArgs,
};

crate::for_each_command!(commands);
