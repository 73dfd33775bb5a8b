//! `GET /v1/notes/{id}/disclosures`: the disclosure log of one contact note (34 CFR 99.32),
//! for its author: each time it reached someone other than them (delivered to their phone,
//! shown on the console, exported), when, and to whom. Anyone else is told there is no such
//! note of theirs. Read from the audit trail ([`crate::storage::AuditStore::note_disclosures`]).

use axum::extract::State;
use rounds_domain::model::DocKind;
use rounds_protocol::NoteDisclosure;
use uuid::Uuid;

use crate::audit::AuditKind;
use crate::auth::PersonSession;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;

/// Most disclosures one answer lists, newest first.
pub const MAX_LISTED: usize = 1_000;

/// `GET /v1/notes/{id}/disclosures`.
pub async fn list(
    State(s): State<AppState>,
    session: PersonSession,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<NoteDisclosure>>> {
    let st = s.storage.clone();
    tokio::task::spawn_blocking(move || {
        let not_yours = || ApiError::NotFound("no such note of yours".into());
        let (header, _) = st.header(id)?.ok_or_else(not_yours)?;
        if header.kind != DocKind::ContactNote || header.author_id != session.person.id {
            return Err(not_yours());
        }
        let names: std::collections::HashMap<Uuid, String> =
            st.people()?.into_iter().map(|p| (p.id, p.name)).collect();
        Ok(Json(
            st.note_disclosures(Some(id), MAX_LISTED)?
                .into_iter()
                .filter_map(|d| {
                    let to = d.entry.person?;
                    Some(NoteDisclosure {
                        at_ms: d.entry.at.timestamp_millis(),
                        to,
                        to_name: names.get(&to).cloned().unwrap_or_default(),
                        how: match d.entry.kind {
                            AuditKind::Delivered => "delivered",
                            AuditKind::ConsoleView => "console",
                            _ => "exported",
                        }
                        .into(),
                    })
                })
                .collect(),
        ))
    })
    .await?
}
