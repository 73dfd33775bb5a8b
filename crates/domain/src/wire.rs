//! Conversions between the core's headers and the sync protocol's.

use chrono::{TimeZone, Utc};
use rounds_protocol::WireHeader;

use crate::document::Header;
use crate::error::{Error, Result};
use crate::model::{Classification, DocKind};

/// A header as it travels.
pub fn header_to_wire(h: &Header) -> WireHeader {
    WireHeader {
        id: h.id,
        kind: h.kind.code().to_string(),
        school: h.school_id,
        author: h.author_id,
        device: h.device_id,
        created_at_ms: h.created_at.timestamp_millis(),
        classification: h.classification.code().to_string(),
    }
}

/// A header received; unknown codes or times are refused naming the field.
pub fn header_from_wire(w: &WireHeader) -> Result<Header> {
    Ok(Header {
        id: w.id,
        kind: DocKind::parse(&w.kind, "header.kind")?,
        school_id: w.school,
        author_id: w.author,
        device_id: w.device,
        created_at: Utc
            .timestamp_millis_opt(w.created_at_ms)
            .single()
            .ok_or_else(|| Error::invalid("header.created_at", "is not a valid time"))?,
        classification: Classification::parse(&w.classification, "header.classification")?,
    })
}
