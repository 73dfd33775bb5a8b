//! Printable text reports as PDF, through the krilla PDF library: US Letter pages, text in
//! embedded OpenType fonts (subset to the glyphs used), wrapped cells and paragraphs, thin
//! rules, page breaks with a repeated table header, and a "Page n of N" footer. The file is
//! PDF/A-2b, the archival profile, since daily reports are records kept for years.
//!
//! Terms:
//! - **Report fonts** ([`ReportFonts`]): the Noto family in three faces per weight, tried in
//!   order for each character — Noto Sans (Latin, with Vietnamese, Greek, Cyrillic), Noto
//!   Sans Arabic, Noto Sans CJK SC (Chinese, Japanese, Korean). They are read once from a
//!   folder: `rounds-server serve --fonts <dir>` (env `ROUNDS_FONTS`), by default
//!   [`DEFAULT_FONT_DIR`], where Debian's `fonts-noto-core` and `fonts-noto-cjk` put them;
//!   the files are found by name anywhere below it ([`FONT_FILES`]). A missing file stops the
//!   server at start with the file and the package that has it.
//! - **Shaping**: each piece of text is split into bidirectional runs (Unicode bidi
//!   algorithm, `unicode-bidi`) and each run into stretches one face covers, shaped with
//!   HarfBuzz's rules (`rustybuzz`): Arabic letters join and right-to-left text comes out in
//!   reading order; each glyph keeps the text it came from, so the PDF's text can be copied
//!   and searched (`pdftotext`).
//! - **Wrapping**: text breaks at spaces and between CJK characters (a word longer than the
//!   line breaks between characters); nothing is cut. A table row is as tall as its tallest
//!   cell and is never split; a paragraph may continue on the next page.
//!
//! Coordinates are points from the top-left corner of the page (y grows downwards).
//!
//! **Why one file:** it is the whole PDF writer over krilla, and its halves share private
//! types: the shaped runs and lines that fonts and wrapping produce are what the page layout
//! draws glyph by glyph; the reports that use it ([`super::reports`]) know only cells,
//! paragraphs and rules.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Datelike, Timelike, Utc};
use krilla::Document;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use unicode_bidi::BidiInfo;

/// Page width in points (US Letter).
pub const WIDTH: f32 = 612.0;
/// Page height in points.
pub const HEIGHT: f32 = 792.0;
/// Left and right margin.
pub const MARGIN: f32 = 48.0;
/// The text width between the margins.
pub const TEXT_WIDTH: f32 = WIDTH - 2.0 * MARGIN;
const TOP: f32 = 54.0;
const BOTTOM: f32 = HEIGHT - 60.0;
const FOOTER: f32 = HEIGHT - 36.0;
/// Line height as a multiple of the font size.
const LEADING: f32 = 1.4;

/// Where the report fonts are looked for unless `--fonts` says otherwise: Debian's font
/// folder (`fonts-noto-core` installs `truetype/noto/`, `fonts-noto-cjk` `opentype/noto/`).
pub const DEFAULT_FONT_DIR: &str = "/usr/share/fonts";

/// The font files, regular then bold, in fallback order, each with its collection index and
/// the Debian package that provides it.
pub const FONT_FILES: [(&str, u32, &str); 6] = [
    ("NotoSans-Regular.ttf", 0, "fonts-noto-core"),
    ("NotoSansArabic-Regular.ttf", 0, "fonts-noto-core"),
    // Faces of the collection: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK.
    ("NotoSansCJK-Regular.ttc", 2, "fonts-noto-cjk"),
    ("NotoSans-Bold.ttf", 0, "fonts-noto-core"),
    ("NotoSansArabic-Bold.ttf", 0, "fonts-noto-core"),
    ("NotoSansCJK-Bold.ttc", 2, "fonts-noto-cjk"),
];
const FACES_PER_WEIGHT: usize = 3;

/// Why the report fonts or a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    /// A font file is not in the folder (nor below it).
    #[error(
        "report font {file} not found under {dir}: install Debian's {package} package, or copy the file there and pass --fonts <dir>"
    )]
    Missing {
        /// The file name looked for.
        file: &'static str,
        /// The folder searched.
        dir: PathBuf,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A font file could not be read.
    #[error("report font {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A font file is not a font this library can use.
    #[error("report font {0} is not a usable OpenType font")]
    Invalid(PathBuf),
}

/// A PDF could not be written (krilla refused the document).
#[derive(Debug, thiserror::Error)]
#[error("the PDF could not be written: {0}")]
pub struct PdfError(pub String);

struct Face {
    font: Font,
    shaper: rustybuzz::Face<'static>,
    units_per_em: f32,
}

/// The report fonts, loaded once (see the module's terms).
pub struct ReportFonts {
    faces: Vec<Face>,
}

impl std::fmt::Debug for ReportFonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFonts")
            .field("faces", &self.faces.len())
            .finish()
    }
}

/// The first file called `name` in `dir` or below it (breadth first, so
/// `/usr/share/fonts/truetype/noto/` is found quickly).
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let mut queue = vec![dir.to_path_buf()];
    while !queue.is_empty() {
        let mut next = Vec::new();
        for d in queue {
            let direct = d.join(name);
            if direct.is_file() {
                return Some(direct);
            }
            if let Ok(entries) = std::fs::read_dir(&d) {
                for e in entries.flatten() {
                    if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                        next.push(e.path());
                    }
                }
            }
        }
        next.sort();
        queue = next;
    }
    None
}

impl ReportFonts {
    /// Reads the [`FONT_FILES`] from `dir` (or below it). The font data is kept for the life
    /// of the process (a server loads it once at start).
    pub fn load(dir: &Path) -> Result<ReportFonts, FontError> {
        // Every file is looked for first, so the error names the first missing one before
        // anything large is read.
        let mut paths = Vec::with_capacity(FONT_FILES.len());
        for (file, index, package) in FONT_FILES {
            let path = find_file(dir, file).ok_or_else(|| FontError::Missing {
                file,
                dir: dir.to_path_buf(),
                package,
            })?;
            paths.push((path, index));
        }
        let mut faces = Vec::with_capacity(paths.len());
        for (path, index) in paths {
            let bytes = std::fs::read(&path).map_err(|source| FontError::Read {
                path: path.clone(),
                source,
            })?;
            let data: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            let shaper = rustybuzz::Face::from_slice(data, index)
                .ok_or_else(|| FontError::Invalid(path.clone()))?;
            let font =
                Font::new(data.into(), index).ok_or_else(|| FontError::Invalid(path.clone()))?;
            let units_per_em = shaper.units_per_em() as f32;
            faces.push(Face {
                font,
                shaper,
                units_per_em,
            });
        }
        Ok(ReportFonts { faces })
    }

    /// The fonts of [`DEFAULT_FONT_DIR`], loaded the first time they are asked for and shared
    /// by every caller in the process (tests, and states built without [`ReportFonts::load`]).
    pub fn shared_default() -> Result<Arc<ReportFonts>, FontError> {
        static FONTS: OnceLock<Result<Arc<ReportFonts>, String>> = OnceLock::new();
        match FONTS.get_or_init(|| {
            ReportFonts::load(Path::new(DEFAULT_FONT_DIR))
                .map(Arc::new)
                .map_err(|e| e.to_string())
        }) {
            Ok(f) => Ok(f.clone()),
            Err(_) => ReportFonts::load(Path::new(DEFAULT_FONT_DIR)).map(Arc::new),
        }
    }

    fn weight(&self, bold: bool) -> &[Face] {
        let start = if bold { FACES_PER_WEIGHT } else { 0 };
        &self.faces[start..start + FACES_PER_WEIGHT]
    }

    /// Which face of the weight draws `c`: the first that has a glyph for it, or `None` for
    /// characters any face can draw (spaces, punctuation, digits: they follow their
    /// neighbours).
    fn face_for(&self, c: char, bold: bool) -> Option<usize> {
        if c.is_whitespace() || c.is_ascii_punctuation() || c.is_ascii_digit() {
            return None;
        }
        let faces = self.weight(bold);
        faces
            .iter()
            .position(|f| f.shaper.glyph_index(c).is_some())
            .or(Some(0))
    }

    /// Shapes one line of `text` at `size`: its glyph runs in visual order, left to right.
    pub fn shape(&self, text: &str, size: f32, bold: bool) -> Line {
        let mut runs = Vec::new();
        let mut width = 0.0;
        if text.is_empty() {
            return Line { runs, width, size };
        }
        let bidi = BidiInfo::new(text, None);
        for para in &bidi.paragraphs {
            let (levels, visual) = bidi.visual_runs(para, para.range.clone());
            for range in visual {
                let rtl = levels[range.start].is_rtl();
                let mut pieces = self.by_face(text, range, bold);
                if rtl {
                    pieces.reverse();
                }
                for (face, r) in pieces {
                    let run = self.shape_run(&text[r], face, size, bold, rtl);
                    width += run.width;
                    runs.push(run);
                }
            }
        }
        Line { runs, width, size }
    }

    /// Splits `text[range]` into stretches drawn by one face each, in logical order.
    fn by_face(&self, text: &str, range: Range<usize>, bold: bool) -> Vec<(usize, Range<usize>)> {
        let mut out: Vec<(usize, Range<usize>)> = Vec::new();
        let mut current: Option<usize> = None;
        let mut start = range.start;
        for (i, c) in text[range.clone()].char_indices() {
            let at = range.start + i;
            let Some(face) = self.face_for(c, bold) else {
                continue;
            };
            match current {
                None => current = Some(face),
                Some(f) if f != face => {
                    out.push((f, start..at));
                    start = at;
                    current = Some(face);
                }
                Some(_) => {}
            }
        }
        out.push((current.unwrap_or(0), start..range.end));
        out
    }

    fn shape_run(&self, text: &str, face: usize, size: f32, bold: bool, rtl: bool) -> Run {
        let f = &self.weight(bold)[face];
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        buffer.set_direction(if rtl {
            rustybuzz::Direction::RightToLeft
        } else {
            rustybuzz::Direction::LeftToRight
        });
        let shaped = rustybuzz::shape(&f.shaper, &[], buffer);
        let infos = shaped.glyph_infos();
        let positions = shaped.glyph_positions();
        // Each glyph stands for the text from its cluster to the next cluster boundary.
        let mut starts: Vec<usize> = infos.iter().map(|i| i.cluster as usize).collect();
        starts.sort_unstable();
        starts.dedup();
        let end_of = |c: usize| {
            starts
                .iter()
                .copied()
                .find(|s| *s > c)
                .unwrap_or(text.len())
        };
        let upem = f.units_per_em;
        let mut glyphs = Vec::with_capacity(infos.len());
        let mut advance = 0.0;
        for (info, pos) in infos.iter().zip(positions) {
            let c = info.cluster as usize;
            let x_advance = pos.x_advance as f32 / upem;
            advance += x_advance;
            glyphs.push(KrillaGlyph::new(
                GlyphId::new(info.glyph_id),
                x_advance,
                pos.x_offset as f32 / upem,
                pos.y_offset as f32 / upem,
                pos.y_advance as f32 / upem,
                c..end_of(c),
                None,
            ));
        }
        Run {
            face: face + if bold { FACES_PER_WEIGHT } else { 0 },
            text: text.to_string(),
            glyphs,
            width: advance * size,
        }
    }

    /// The width of `text` on one line at `size`.
    pub fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        self.shape(text, size, bold).width
    }

    /// `text` broken into lines no wider than `width` and shaped; a text that fits is shaped
    /// once.
    pub fn wrap_lines(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<Line> {
        if !text.contains('\n') {
            let line = self.shape(text.trim(), size, bold);
            if line.width <= width {
                return vec![line];
            }
        }
        self.wrap(text, width, size, bold)
            .iter()
            .map(|l| self.shape(l, size, bold))
            .collect()
    }

    /// `text` broken into lines no wider than `width` (see the module's terms on wrapping).
    /// Line breaks in the text are kept; an empty text is one empty line.
    pub fn wrap(&self, text: &str, width: f32, size: f32, bold: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for piece in pieces(para) {
                let candidate = if line.is_empty() {
                    piece.text.trim_start().to_string()
                } else {
                    format!("{line}{}", piece.text)
                };
                if self.width(&candidate, size, bold) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line).trim_end().to_string());
                }
                let word = piece.text.trim_start();
                if self.width(word, size, bold) <= width {
                    line = word.to_string();
                    continue;
                }
                // A word longer than the line: break it between characters.
                for c in word.chars() {
                    let mut next = line.clone();
                    next.push(c);
                    if !line.is_empty() && self.width(&next, size, bold) > width {
                        lines.push(
                            std::mem::replace(&mut line, c.to_string())
                                .trim_end()
                                .to_string(),
                        );
                    } else {
                        line = next;
                    }
                }
            }
            lines.push(line.trim_end().to_string());
        }
        lines
    }
}

struct Piece<'a> {
    /// The piece with the spaces before it.
    text: &'a str,
}

/// Where a line may break: before each word (after its spaces), and before and after each
/// CJK character.
fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    for (i, c) in s.char_indices() {
        let breaks = match prev {
            None => false,
            Some(p) => (!c.is_whitespace() && p.is_whitespace()) || is_cjk(c) || is_cjk(p),
        };
        if breaks && i > start {
            out.push(Piece { text: &s[start..i] });
            start = i;
        }
        prev = Some(c);
    }
    if start < s.len() {
        out.push(Piece { text: &s[start..] });
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF     // kana
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // compatibility ideographs
        | 0x20000..=0x2FFFF)
}

/// One shaped stretch of text in one face.
#[derive(Debug, Clone)]
pub struct Run {
    face: usize,
    text: String,
    glyphs: Vec<KrillaGlyph>,
    width: f32,
}

/// A shaped line: runs in visual order.
#[derive(Debug, Clone)]
pub struct Line {
    runs: Vec<Run>,
    /// Its width in points.
    pub width: f32,
    size: f32,
}

#[derive(Debug, Clone)]
enum Op {
    Text { x: f32, baseline: f32, line: Line },
    Rule { y: f32 },
}

/// One cell of a table row: its left edge, its width and its text.
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    /// Left edge.
    pub x: f32,
    /// Width the text wraps to.
    pub width: f32,
    /// The text.
    pub text: &'a str,
}

/// A repeated header's cell: left edge, width, text.
type HeaderCell = (f32, f32, String);

/// A document being laid out, page by page; [`Pdf::finish`] writes it.
pub struct Pdf<'f> {
    fonts: &'f ReportFonts,
    title: String,
    created: DateTime<Utc>,
    pages: Vec<Vec<Op>>,
    current: Vec<Op>,
    /// Distance of the next line's top from the top of the page.
    y: f32,
    /// A table's header row, repeated at the top of each new page while it is set.
    repeat: Option<(Vec<HeaderCell>, f32)>,
}

impl<'f> Pdf<'f> {
    /// A new document; `title` goes into its metadata and every page's footer, `created`
    /// into its metadata (PDF/A requires a date).
    pub fn new(fonts: &'f ReportFonts, title: &str, created: DateTime<Utc>) -> Self {
        Pdf {
            fonts,
            title: title.to_string(),
            created,
            pages: Vec::new(),
            current: Vec::new(),
            y: TOP,
            repeat: None,
        }
    }

    /// The fonts it lays text out with.
    pub fn fonts(&self) -> &'f ReportFonts {
        self.fonts
    }

    /// Repeats `cells` (bold, at `size`) at the top of every following page, until `None`.
    pub fn repeat_header(&mut self, cells: Option<(&[Cell<'_>], f32)>) {
        self.repeat = cells.map(|(c, size)| {
            (
                c.iter()
                    .map(|c| (c.x, c.width, c.text.to_string()))
                    .collect(),
                size,
            )
        });
    }

    /// Starts a new page if less than `needed` points are left on this one.
    pub fn need(&mut self, needed: f32) {
        if self.y + needed > BOTTOM {
            self.page_break();
        }
    }

    /// Ends the current page (the next starts with the repeated header, if any).
    pub fn page_break(&mut self) {
        let done = std::mem::take(&mut self.current);
        self.pages.push(done);
        self.y = TOP;
        if let Some((cells, size)) = self.repeat.clone() {
            let cells: Vec<Cell<'_>> = cells
                .iter()
                .map(|(x, width, text)| Cell {
                    x: *x,
                    width: *width,
                    text,
                })
                .collect();
            self.row(&cells, size, true);
            self.rule();
        }
    }

    fn put_line(&mut self, x: f32, top: f32, line: Line) {
        // The baseline sits about four fifths of the line's height down.
        let baseline = top + line.size * 1.1;
        self.current.push(Op::Text { x, baseline, line });
    }

    /// A table row: each cell wrapped to its width, the row as tall as its tallest cell, on
    /// one page.
    pub fn row(&mut self, cells: &[Cell<'_>], size: f32, bold: bool) {
        let lead = size * LEADING;
        let wrapped: Vec<Vec<Line>> = cells
            .iter()
            .map(|c| self.fonts.wrap_lines(c.text, c.width, size, bold))
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * lead;
        self.need(height);
        for (cell, lines) in cells.iter().zip(wrapped) {
            for (i, line) in lines.into_iter().enumerate() {
                self.put_line(cell.x, self.y + i as f32 * lead, line);
            }
        }
        self.y += height;
    }

    /// A paragraph at `x`, wrapped to `width`; it may continue on the next page.
    pub fn paragraph(&mut self, x: f32, width: f32, text: &str, size: f32, bold: bool) {
        let lead = size * LEADING;
        for line in self.fonts.wrap_lines(text, width, size, bold) {
            self.need(lead);
            self.put_line(x, self.y, line);
            self.y += lead;
        }
    }

    /// Vertical space.
    pub fn gap(&mut self, h: f32) {
        self.y += h;
        if self.y > BOTTOM {
            self.page_break();
        }
    }

    /// A thin horizontal rule across the text width.
    pub fn rule(&mut self) {
        self.need(6.0);
        self.y += 3.0;
        self.current.push(Op::Rule { y: self.y });
        self.y += 3.0;
    }

    /// How many pages it has so far (the current one included).
    pub fn page_count(&self) -> usize {
        self.pages.len() + usize::from(!self.current.is_empty() || self.pages.is_empty())
    }

    /// The finished file.
    pub fn finish(mut self) -> Result<Vec<u8>, PdfError> {
        if !self.current.is_empty() || self.pages.is_empty() {
            let done = std::mem::take(&mut self.current);
            self.pages.push(done);
        }
        let fonts = self.fonts;
        let n = self.pages.len();
        let settings = krilla::SerializeSettings {
            configuration: krilla::configure::Configuration::new_with_validator(
                krilla::configure::Validator::A2_B,
            ),
            ..krilla::SerializeSettings::default()
        };
        let mut doc = Document::new_with(settings);
        let page_settings =
            PageSettings::from_wh(WIDTH, HEIGHT).ok_or_else(|| PdfError("page size".into()))?;
        for (i, ops) in self.pages.iter().enumerate() {
            let mut page = doc.start_page_with(page_settings.clone());
            let mut surface = page.surface();
            for op in ops {
                match op {
                    Op::Text { x, baseline, line } => {
                        draw_line(&mut surface, fonts, *x, *baseline, line)
                    }
                    Op::Rule { y } => {
                        let mut pb = PathBuilder::new();
                        pb.move_to(MARGIN, *y);
                        pb.line_to(WIDTH - MARGIN, *y);
                        if let Some(path) = pb.finish() {
                            surface.set_fill(None);
                            surface.set_stroke(Some(Stroke {
                                paint: krilla::color::rgb::Color::new(150, 150, 150).into(),
                                width: 0.5,
                                ..Stroke::default()
                            }));
                            surface.draw_path(&path);
                            surface.set_stroke(None);
                            surface.set_fill(Some(Fill::default()));
                        }
                    }
                }
            }
            let footer = fonts.shape(&self.title, 8.0, false);
            draw_line(&mut surface, fonts, MARGIN, FOOTER, &footer);
            let number = fonts.shape(&format!("Page {} of {n}", i + 1), 8.0, false);
            let right = WIDTH - MARGIN - number.width;
            draw_line(&mut surface, fonts, right, FOOTER, &number);
            surface.finish();
            page.finish();
        }
        doc.set_metadata(
            Metadata::new()
                .title(self.title.clone())
                .creator("Rounds district server".to_string())
                .creation_date(pdf_date(self.created))
                .language("en-US".to_string()),
        );
        doc.finish().map_err(|e| PdfError(format!("{e:?}")))
    }
}

/// An instant as PDF metadata's date, in UTC.
fn pdf_date(t: DateTime<Utc>) -> krilla::metadata::DateTime {
    let clamp = |v: u32| u8::try_from(v).unwrap_or(0);
    krilla::metadata::DateTime::new(u16::try_from(t.year()).unwrap_or(1970))
        .month(clamp(t.month()))
        .day(clamp(t.day()))
        .hour(clamp(t.hour()))
        .minute(clamp(t.minute()))
        .second(clamp(t.second()))
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

fn draw_line(
    surface: &mut krilla::surface::Surface<'_>,
    fonts: &ReportFonts,
    x: f32,
    baseline: f32,
    line: &Line,
) {
    let mut at = x;
    for run in &line.runs {
        let face = &fonts.faces[run.face];
        surface.draw_glyphs(
            Point::from_xy(at, baseline),
            &run.glyphs,
            face.font.clone(),
            &run.text,
            line.size,
            false,
        );
        at += run.width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fonts() -> Arc<ReportFonts> {
        ReportFonts::shared_default().expect("Noto fonts installed by scripts/setup.sh")
    }

    #[test]
    fn a_missing_font_names_the_file_and_its_package() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = ReportFonts::load(dir.path()).expect_err("no fonts there");
        let msg = err.to_string();
        assert!(msg.contains("NotoSans-Regular.ttf"), "{msg}");
        assert!(msg.contains("fonts-noto-core"), "{msg}");
        assert!(msg.contains("--fonts"), "{msg}");
    }

    #[test]
    fn each_script_is_drawn_by_a_face_that_has_it() {
        let f = fonts();
        assert_eq!(f.face_for('A', false), Some(0));
        assert_eq!(f.face_for('ễ', false), Some(0), "Vietnamese in Noto Sans");
        assert_eq!(
            f.face_for('م', false),
            Some(1),
            "Arabic in Noto Sans Arabic"
        );
        assert_eq!(f.face_for('王', false), Some(2), "Chinese in Noto Sans CJK");
        assert_eq!(
            f.face_for(' ', false),
            None,
            "spaces follow their neighbours"
        );
        let line = f.shape("Nguyễn 王小明 محمد", 10.0, false);
        let faces: Vec<usize> = line.runs.iter().map(|r| r.face).collect();
        assert_eq!(faces, [0, 2, 1], "three runs, one per face");
        assert!(
            line.runs
                .iter()
                .all(|r| r.glyphs.iter().all(|g| g.glyph_id.to_u32() != 0)),
            "no .notdef"
        );
    }

    #[test]
    fn arabic_is_shaped_right_to_left_with_joined_letters() {
        let f = fonts();
        let word = "محمد";
        let line = f.shape(word, 10.0, false);
        assert_eq!(line.runs.len(), 1);
        let run = &line.runs[0];
        // Visual order: the last letter (logically) is drawn first, at the left.
        let first = run.glyphs.first().map(|g| g.text_range.start);
        let last = run.glyphs.last().map(|g| g.text_range.start);
        assert_eq!(
            first,
            Some(word.len() - 'د'.len_utf8()),
            "the final dal is leftmost"
        );
        assert_eq!(last, Some(0), "the initial meem is rightmost");
        // Joined forms differ from the isolated letters: the two meems take different glyphs.
        let isolated = f.shape("م", 10.0, false).runs[0].glyphs[0].glyph_id;
        assert_ne!(
            run.glyphs.last().map(|g| g.glyph_id),
            Some(isolated),
            "initial form"
        );
    }

    #[test]
    fn long_text_wraps_within_its_width_and_keeps_every_word() {
        let f = fonts();
        let text = "The east stairwell door was propped open with a wedge again; removed it and told the custodian, who will check the closer tomorrow morning.";
        let lines = f.wrap(text, 150.0, 9.0, false);
        assert!(lines.len() > 3, "wrapped: {lines:?}");
        for l in &lines {
            assert!(f.width(l, 9.0, false) <= 150.0, "{l:?} fits");
        }
        assert_eq!(lines.join(" "), text, "nothing is cut or lost");
        let cjk = f.wrap("王小明王小明王小明王小明王小明王小明", 40.0, 9.0, false);
        assert!(cjk.len() > 1, "CJK breaks between characters: {cjk:?}");
        assert_eq!(cjk.concat(), "王小明王小明王小明王小明王小明王小明");
    }

    #[test]
    fn table_headers_repeat_on_each_new_page() {
        let f = fonts();
        let mut p = Pdf::new(&f, "t", DateTime::<Utc>::default());
        let head = [Cell {
            x: MARGIN,
            width: 100.0,
            text: "HEAD",
        }];
        p.repeat_header(Some((&head, 9.0)));
        for i in 0..120 {
            p.row(
                &[Cell {
                    x: MARGIN,
                    width: 100.0,
                    text: &format!("row {i}"),
                }],
                9.0,
                false,
            );
        }
        p.repeat_header(None);
        let pages = p.page_count();
        assert!(pages >= 2, "120 rows need more than one page");
        let heads = p
            .pages
            .iter()
            .chain(std::iter::once(&p.current))
            .filter(|ops| {
                ops.iter().any(|o| matches!(o, Op::Text { line, .. } if line.runs.iter().any(|r| r.text == "HEAD")))
            })
            .count();
        assert_eq!(heads, pages - 1, "on every page after the first");
        let bytes = p.finish().expect("pdf");
        assert!(bytes.starts_with(b"%PDF-"));
    }
}
