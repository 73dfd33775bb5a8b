//! A minimal PDF writer for printable text reports: US Letter pages, Helvetica and
//! Helvetica-Bold (standard fonts every PDF reader has, so nothing is embedded), left-aligned
//! text at given x positions, thin rules, automatic page breaks and a "page n of N" footer.
//!
//! The file is PDF 1.4 with uncompressed content streams and a cross-reference table; text
//! uses WinAnsiEncoding, so Latin-1 letters print as themselves and a few typographic
//! characters (dashes, quotes, bullet) are mapped; anything else prints as `?`.

use std::fmt::Write;

/// Page width in points (US Letter).
pub const WIDTH: f32 = 612.0;
/// Page height in points.
pub const HEIGHT: f32 = 792.0;
/// Left and right margin.
pub const MARGIN: f32 = 48.0;
const TOP: f32 = HEIGHT - 54.0;
const BOTTOM: f32 = 60.0;

/// A document being written, page by page.
pub struct Pdf {
    title: String,
    pages: Vec<String>,
    current: String,
    y: f32,
    /// A table's header row, repeated at the top of each new page while it is set.
    repeat: Option<(Vec<(f32, String)>, f32)>,
}

/// Escapes and encodes text for a PDF string literal in WinAnsiEncoding.
pub fn pdf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for ch in s.chars() {
        let code: u32 = match ch {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(ch);
                continue;
            }
            '\n' | '\r' | '\t' => 32,
            c if (' '..='~').contains(&c) => {
                out.push(c);
                continue;
            }
            c if (0xA0..=0xFF).contains(&(c as u32)) => c as u32,
            '–' => 0x96,
            '—' => 0x97,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '…' => 0x85,
            '€' => 0x80,
            _ => u32::from(b'?'),
        };
        let _ = write!(out, "\\{code:03o}");
    }
    out
}

/// Approximate width of `s` in Helvetica at `size` (for fitting text in columns).
pub fn text_width(s: &str, size: f32) -> f32 {
    let em: f32 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' => 0.278,
            'f' | 't' | 'r' | '(' | ')' | '-' | '/' => 0.333,
            'm' | 'w' | 'M' | 'W' => 0.833,
            'A'..='Z' => 0.667,
            _ => 0.556,
        })
        .sum();
    em * size
}

/// `s` cut (with an ellipsis) to fit `width` points at `size`.
pub fn fit(s: &str, width: f32, size: f32) -> String {
    if text_width(s, size) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        if text_width(&out, size) + text_width("…", size) > width {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

impl Pdf {
    /// A new document; `title` goes into its metadata and every page's footer.
    pub fn new(title: &str) -> Self {
        Pdf {
            title: title.to_string(),
            pages: Vec::new(),
            current: String::new(),
            y: TOP,
            repeat: None,
        }
    }

    /// Repeats `cells` (bold, at `size`) at the top of every following page, until `None`.
    pub fn repeat_header(&mut self, cells: Option<(&[(f32, &str)], f32)>) {
        self.repeat = cells.map(|(c, size)| {
            (
                c.iter().map(|(x, t)| (*x, (*t).to_string())).collect(),
                size,
            )
        });
    }

    /// Starts a new page if less than `needed` points are left on this one.
    pub fn need(&mut self, needed: f32) {
        if self.y - needed < BOTTOM {
            self.page_break();
        }
    }

    /// Ends the current page.
    pub fn page_break(&mut self) {
        let done = std::mem::take(&mut self.current);
        self.pages.push(done);
        self.y = TOP;
        if let Some((cells, size)) = self.repeat.clone() {
            let cells: Vec<(f32, &str)> = cells.iter().map(|(x, t)| (*x, t.as_str())).collect();
            self.row(&cells, size, true);
            self.rule();
        }
    }

    /// One line of text cells `(x, text)` at `size`, then moves down.
    pub fn row(&mut self, cells: &[(f32, &str)], size: f32, bold: bool) {
        let lead = size * 1.45;
        self.need(lead);
        self.y -= lead;
        let font = if bold { "F2" } else { "F1" };
        for (x, t) in cells {
            let _ = writeln!(
                self.current,
                "BT /{font} {size:.1} Tf {x:.1} {:.1} Td ({}) Tj ET",
                self.y,
                pdf_string(t)
            );
        }
    }

    /// A paragraph wrapped to the text width.
    pub fn paragraph(&mut self, text: &str, size: f32) {
        let width = WIDTH - 2.0 * MARGIN;
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, size) > width && !line.is_empty() {
                self.row(&[(MARGIN, &line)], size, false);
                line = word.to_string();
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            self.row(&[(MARGIN, &line)], size, false);
        }
    }

    /// Vertical space.
    pub fn gap(&mut self, h: f32) {
        self.y -= h;
        if self.y < BOTTOM {
            self.page_break();
        }
    }

    /// A thin horizontal rule across the text width.
    pub fn rule(&mut self) {
        self.need(6.0);
        self.y -= 4.0;
        let _ = writeln!(
            self.current,
            "0.6 G 0.5 w {MARGIN:.1} {:.1} m {:.1} {:.1} l S 0 G",
            self.y,
            WIDTH - MARGIN,
            self.y
        );
    }

    /// The finished file.
    pub fn finish(mut self) -> Vec<u8> {
        if !self.current.is_empty() || self.pages.is_empty() {
            self.page_break();
        }
        let n = self.pages.len();
        let mut objects: Vec<String> = Vec::new();
        // 1 catalog, 2 pages, 3 and 4 fonts, 5 info; then page i: 6 + 2i, content 7 + 2i.
        objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
        let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 6 + 2 * i)).collect();
        objects.push(format!(
            "<< /Type /Pages /Kids [{}] /Count {n} >>",
            kids.join(" ")
        ));
        objects.push(
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .into(),
        );
        objects.push(
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
                .into(),
        );
        objects.push(format!(
            "<< /Title ({}) /Producer (Rounds district server) >>",
            pdf_string(&self.title)
        ));
        for (i, content) in self.pages.iter().enumerate() {
            let footer = format!(
                "BT /F1 8.0 Tf {MARGIN:.1} 36.0 Td ({}) Tj ET\nBT /F1 8.0 Tf {:.1} 36.0 Td (Page {} of {n}) Tj ET\n",
                pdf_string(&self.title),
                WIDTH - MARGIN - 60.0,
                i + 1
            );
            let stream = format!("{content}{footer}");
            objects.push(format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {WIDTH} {HEIGHT}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {} 0 R >>",
                7 + 2 * i
            ));
            objects.push(format!(
                "<< /Length {} >>\nstream\n{stream}endstream",
                stream.len()
            ));
        }
        let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::with_capacity(objects.len());
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        let mut tail = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for off in offsets {
            let _ = writeln!(tail, "{off:010} 00000 n ");
        }
        let _ = write!(
            tail,
            "trailer\n<< /Size {} /Root 1 0 R /Info 5 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        );
        out.extend_from_slice(tail.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_encoded() {
        assert_eq!(pdf_string(r"a(b)c\d"), r"a\(b\)c\\d");
        assert_eq!(pdf_string("é—x"), "\\351\\227x");
        assert_eq!(pdf_string("→"), "\\077", "unmappable characters print as ?");
    }

    #[test]
    fn the_file_has_a_correct_cross_reference_table() {
        let mut p = Pdf::new("Test (report)");
        for i in 0..200 {
            p.row(&[(MARGIN, &format!("line {i}"))], 10.0, i % 2 == 0);
        }
        let bytes = p.finish();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-1.4"));
        assert!(text.ends_with("%%EOF\n"));
        assert!(text.contains("/Count 5"), "200 lines need several pages");
        // Every offset in the xref table points at its object.
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let table = &text[xref_at..];
        for (i, line) in table
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .enumerate()
        {
            let off: usize = line[..10].parse().unwrap_or(0);
            assert!(
                text[off..].starts_with(&format!("{} 0 obj", i + 1)),
                "object {} is where the table says",
                i + 1
            );
        }
    }

    #[test]
    fn table_headers_repeat_on_each_new_page() {
        let mut p = Pdf::new("t");
        p.repeat_header(Some((&[(MARGIN, "HEAD")], 9.0)));
        for i in 0..120 {
            p.row(&[(MARGIN, &format!("row {i}"))], 9.0, false);
        }
        p.repeat_header(None);
        let text = String::from_utf8_lossy(&p.finish()).into_owned();
        let pages = text.matches("/Type /Page ").count();
        assert!(pages >= 2);
        assert_eq!(
            text.matches("(HEAD)").count(),
            pages - 1,
            "on every page after the first"
        );
    }

    #[test]
    fn long_text_is_cut_to_fit() {
        let s = fit("A very long school name that will not fit", 60.0, 9.0);
        assert!(s.ends_with('…'));
        assert!(text_width(&s, 9.0) <= 60.0);
    }
}
