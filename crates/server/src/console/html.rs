//! HTML building for the console: one escaping function that every interpolated value goes
//! through ([`esc`]), the page layout with its navigation, and small pieces (links with query
//! strings, form fields) shared by the pages. No template engine: pages are `format!` and
//! `push_str` over escaped values, so what reaches the browser is easy to audit.

use std::fmt::Write;

use rounds_domain::model::Role;

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'` become character references.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub fn url_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Who is looking at a page, for its header.
pub struct Chrome<'a> {
    /// Display name.
    pub name: &'a str,
    /// Role (admins get the admin link).
    pub role: Role,
    /// The session's form token (for the sign-out form).
    pub csrf: &'a str,
}

/// A whole page: `title` is escaped here, `body` must already be HTML.
pub fn page(title: &str, who: Option<&Chrome<'_>>, body: &str) -> String {
    let mut nav = String::new();
    if let Some(w) = who {
        nav.push_str(r#"<nav><a href="/console/day">Day</a> <a href="/console/incidents">Incidents</a> <a href="/console/reports">Reports</a>"#);
        if w.role == Role::Supervisor {
            nav.push_str(r#" <a href="/console/notes">Shared notes</a>"#);
        }
        if w.role == Role::Admin {
            nav.push_str(r#" <a href="/console/admin">Admin</a>"#);
        }
        let _ = write!(
            nav,
            r#"<span class="who">{} ({})</span><form method="post" action="/console/logout" class="inline">{}<button>Sign out</button></form></nav>"#,
            esc(w.name),
            esc(w.role.label()),
            csrf_field(w.csrf)
        );
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · Rounds console</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/console/console.css\"></head><body><header><h1><a href=\"/console/day\">Rounds</a> <small>supervisor console</small></h1>{nav}</header><main>\n{body}\n</main></body></html>\n",
        esc(title)
    )
}

/// The hidden field carrying a session's form token.
pub fn csrf_field(token: &str) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(token)
    )
}

/// `<option>`s of a select, `selected` marking the current value; values and labels escaped.
pub fn options<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>, selected: &str) -> String {
    let mut out = String::new();
    for (value, label) in items {
        let sel = if value == selected { " selected" } else { "" };
        let _ = write!(
            out,
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(value),
            esc(label)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A form body as the console's form extractors decode it
    /// ([`crate::console::session::CsrfForm`] of pairs).
    fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(body).unwrap_or_default()
    }

    #[test]
    fn escaping_neutralises_markup_in_text_and_attributes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        // Already-escaped text is escaped again (shown literally), never decoded.
        assert_eq!(esc("&amp;"), "&amp;amp;");
        // Everything else passes through untouched, including non-ASCII.
        assert_eq!(esc("Gym east doors — B2"), "Gym east doors — B2");
    }

    #[test]
    fn form_bodies_decode_with_repeated_keys() {
        let pairs = form_pairs(b"csrf=a%2Bb&school=1&school=2&name=Ann+Lee+%C3%A9&bad=%zz&x");
        let want: Vec<(String, String)> = [
            ("csrf", "a+b"),
            ("school", "1"),
            ("school", "2"),
            ("name", "Ann Lee é"),
            ("bad", "%zz"),
            ("x", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pairs, want);
        assert_eq!(
            form_pairs(b"a=%4"),
            vec![("a".to_string(), "%4".to_string())]
        );
        // What url_param encodes, form_pairs decodes.
        let v = "x&y=z / é+";
        assert_eq!(form_pairs(format!("k={}", url_param(v)).as_bytes())[0].1, v);
    }

    proptest::proptest! {
        #[test]
        fn escaped_text_never_contains_markup_and_decodes_back(s in ".*") {
            let e = esc(&s);
            proptest::prop_assert!(!e.contains(['<', '>', '"', '\'']));
            let back = e
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            proptest::prop_assert_eq!(back, s);
        }

        #[test]
        fn form_values_survive_encoding(s in ".*") {
            let pairs = form_pairs(format!("k={}", url_param(&s)).as_bytes());
            proptest::prop_assert_eq!(&pairs[0].1, &s);
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_param("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(url_param("2026-11-30"), "2026-11-30");
    }

    #[test]
    fn page_escapes_its_title_and_the_viewer_name() {
        let who = Chrome {
            name: "<b>Sam</b>",
            role: Role::Supervisor,
            csrf: "t\"k",
        };
        let html = page("<i>Day</i>", Some(&who), "<p>body</p>");
        assert!(html.contains("&lt;i&gt;Day&lt;/i&gt; · Rounds console"));
        assert!(html.contains("&lt;b&gt;Sam&lt;/b&gt;"));
        assert!(html.contains(r#"value="t&quot;k""#));
        assert!(html.contains("<p>body</p>"), "the body is HTML already");
        assert!(
            !html.contains("/console/admin"),
            "supervisors get no admin link"
        );
    }
}
