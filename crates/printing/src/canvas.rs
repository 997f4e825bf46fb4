//! Pages as lists of drawing operations, line wrapping, and the rendering of pages into
//! one PDF with krilla.
//!
//! Layout first produces [`Page`]s (so a report knows its page count before it prints
//! «Страница N из M»); [`Pdf`] then draws them. Coordinates are PDF points with the
//! origin at the top-left corner and y growing downwards; a text's y is its baseline.
//! Everything is grey on white: letters are printed in bulk on monochrome printers.

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::{Document, SerializeSettings};

use crate::PrintError;
use crate::fonts::{Face, Fonts, Weight};

/// One millimetre in points.
pub(crate) const MM: f32 = 72.0 / 25.4;
/// A4 portrait, in points.
pub(crate) const PAGE_WIDTH: f32 = 210.0 * MM;
pub(crate) const PAGE_HEIGHT: f32 = 297.0 * MM;

/// Grey levels, 0 black … 255 white.
pub(crate) const BLACK: u8 = 0;
pub(crate) const DARK: u8 = 0x44;
pub(crate) const MUTED: u8 = 0x66;
pub(crate) const RULE: u8 = 0xB0;
pub(crate) const SHADE: u8 = 0xEC;

/// How a run of text looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Style {
    pub weight: Weight,
    /// Font size in points.
    pub size: f32,
    pub gray: u8,
}

impl Style {
    pub(crate) const fn new(weight: Weight, size: f32) -> Self {
        Self { weight, size, gray: BLACK }
    }

    pub(crate) const fn gray(self, gray: u8) -> Self {
        Self { gray, ..self }
    }

    /// Distance between baselines of wrapped lines.
    pub(crate) fn leading(self) -> f32 {
        self.size * 1.3
    }
}

#[derive(Debug, Clone)]
enum Op {
    Text { x: f32, y: f32, style: Style, text: String, tracking: f32 },
    Fill { x: f32, y: f32, w: f32, h: f32, gray: u8 },
    Line { from: (f32, f32), to: (f32, f32), width: f32, gray: u8 },
}

/// One A4 page to be drawn.
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    ops: Vec<Op>,
}

impl Page {
    /// Text starting at `x` on the baseline `y`. The text must be one line, already
    /// cleaned by [`Fonts::clean`].
    pub(crate) fn text(&mut self, x: f32, y: f32, style: Style, text: impl Into<String>) {
        self.ops.push(Op::Text { x, y, style, text: text.into(), tracking: 0.0 });
    }

    /// Text ending at `right`.
    pub(crate) fn text_right(
        &mut self,
        fonts: &Fonts,
        right: f32,
        y: f32,
        style: Style,
        text: impl Into<String>,
    ) {
        let text = text.into();
        let width = fonts.face(style.weight).width(&text, style.size);
        self.text(right - width, y, style, text);
    }

    /// Text centred on `centre`, with `tracking` em of letter spacing.
    pub(crate) fn text_centred(
        &mut self,
        fonts: &Fonts,
        centre: f32,
        y: f32,
        style: Style,
        tracking: f32,
        text: impl Into<String>,
    ) {
        let text = text.into();
        let width = tracked_width(fonts, style, tracking, &text);
        // The last glyph's spacing is not part of the visible text.
        let x = centre - (width - tracking * style.size) / 2.0;
        self.ops.push(Op::Text { x, y, style, text, tracking });
    }

    pub(crate) fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, gray: u8) {
        self.ops.push(Op::Fill { x, y, w, h, gray });
    }

    pub(crate) fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, gray: u8) {
        self.ops.push(Op::Line { from, to, width, gray });
    }

    /// Text lines from the baseline `y` down, `style.leading()` apart. Returns the
    /// baseline after the last line.
    pub(crate) fn lines(&mut self, x: f32, y: f32, style: Style, lines: &[String]) -> f32 {
        let mut y = y;
        for line in lines {
            self.text(x, y, style, line.clone());
            y += style.leading();
        }
        y
    }
}

/// Width of `text` with `tracking` em after every character.
pub(crate) fn tracked_width(fonts: &Fonts, style: Style, tracking: f32, text: &str) -> f32 {
    let face = fonts.face(style.weight);
    face.width(text, style.size) + tracking * style.size * text.chars().count() as f32
}

/// Breaks `text` into lines no wider than `width` points: at `\n`, then between words,
/// and inside a word only when the word alone is too wide (long identifiers, addresses
/// of web pages). Every line is cleaned for the fonts. An empty text gives no lines.
pub(crate) fn wrap(fonts: &Fonts, style: Style, text: &str, width: f32) -> Vec<String> {
    let face = fonts.face(style.weight);
    let space = face.width(" ", style.size);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph = fonts.clean(paragraph.trim_end_matches('\r'));
        let mut line = String::new();
        let mut line_width = 0.0;
        for word in paragraph.split(' ').filter(|word| !word.is_empty()) {
            let word_width = face.width(word, style.size);
            if !line.is_empty() && line_width + space + word_width <= width {
                line.push(' ');
                line.push_str(word);
                line_width += space + word_width;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if word_width <= width {
                line = word.to_owned();
                line_width = word_width;
            } else {
                line = break_word(face, style.size, word, width, &mut lines);
                line_width = face.width(&line, style.size);
            }
        }
        lines.push(line);
    }
    // A text ending in line breaks should not print blank lines after it.
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// Pushes full-width pieces of an over-long word onto `lines`; returns the remainder.
fn break_word(face: &Face, size: f32, word: &str, width: f32, lines: &mut Vec<String>) -> String {
    let mut piece = String::new();
    let mut piece_width = 0.0;
    let mut buffer = [0; 4];
    for ch in word.chars() {
        let ch_width = face.width(ch.encode_utf8(&mut buffer), size);
        if piece_width + ch_width > width && !piece.is_empty() {
            lines.push(std::mem::take(&mut piece));
            piece_width = 0.0;
        }
        piece.push(ch);
        piece_width += ch_width;
    }
    piece
}

/// Document-wide settings written into the PDF.
#[derive(Debug)]
pub(crate) struct DocInfo<'a> {
    pub title: &'a str,
    pub subject: &'a str,
}

/// A PDF being written, page by page.
pub(crate) struct Pdf<'f> {
    document: Document,
    fonts: &'f Fonts,
}

impl std::fmt::Debug for Pdf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pdf").finish_non_exhaustive()
    }
}

impl<'f> Pdf<'f> {
    pub(crate) fn new(fonts: &'f Fonts, info: &DocInfo<'_>) -> Self {
        let settings = SerializeSettings {
            // Nothing here is tagged; krilla would otherwise write an empty structure tree.
            enable_tagging: false,
            ..SerializeSettings::default()
        };
        let mut document = Document::new_with(settings);
        document.set_metadata(
            Metadata::new()
                .title(info.title.to_owned())
                .description(info.subject.to_owned())
                .language("ru-RU".to_owned())
                .creator("Uslugi".to_owned()),
        );
        Self { document, fonts }
    }

    pub(crate) fn page(&mut self, page: &Page) -> Result<(), PrintError> {
        let settings = PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT).ok_or(PrintError::Layout)?;
        let mut pdf_page = self.document.start_page_with(settings);
        let mut surface = pdf_page.surface();
        for op in &page.ops {
            match op {
                Op::Text { x, y, style, text, tracking } => {
                    let face = self.fonts.face(style.weight);
                    surface.set_stroke(None);
                    surface.set_fill(Some(fill(style.gray)));
                    surface.draw_glyphs(
                        Point::from_xy(*x, *y),
                        &face.glyphs(text, *tracking),
                        face.font(),
                        text,
                        style.size,
                        false,
                    );
                }
                Op::Fill { x, y, w, h, gray } => {
                    let rect = Rect::from_xywh(*x, *y, *w, *h).ok_or(PrintError::Layout)?;
                    let mut path = PathBuilder::new();
                    path.push_rect(rect);
                    let path = path.finish().ok_or(PrintError::Layout)?;
                    surface.set_stroke(None);
                    surface.set_fill(Some(fill(*gray)));
                    surface.draw_path(&path);
                }
                Op::Line { from, to, width, gray } => {
                    let mut path = PathBuilder::new();
                    path.move_to(from.0, from.1);
                    path.line_to(to.0, to.1);
                    let path = path.finish().ok_or(PrintError::Layout)?;
                    surface.set_fill(None);
                    surface.set_stroke(Some(Stroke {
                        paint: luma::Color::new(*gray).into(),
                        width: *width,
                        ..Stroke::default()
                    }));
                    surface.draw_path(&path);
                }
            }
        }
        surface.finish();
        pdf_page.finish();
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, PrintError> {
        self.document.finish().map_err(|error| PrintError::Pdf { message: error.to_string() })
    }
}

fn fill(gray: u8) -> Fill {
    Fill { paint: luma::Color::new(gray).into(), ..Fill::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: Style = Style::new(Weight::Regular, 10.0);

    #[test]
    fn wrapped_lines_fit_and_keep_every_word() {
        let fonts = Fonts::load().unwrap();
        let text = "Съешь же ещё этих мягких французских булок, да выпей чаю.\n\nВторой абзац \
                    с ОченьДлинноеСловоБезПробеловКотороеНеПомещаетсяВСтрокуЦеликом.";
        let width = 40.0 * MM;
        let lines = wrap(&fonts, BODY, text, width);
        let face = fonts.face(Weight::Regular);
        assert!(lines.len() > 4, "{lines:?}");
        for line in &lines {
            assert!(face.width(line, BODY.size) <= width + 0.01, "{line:?} is too wide");
        }
        assert!(lines.contains(&String::new()), "the blank line between paragraphs stays");
        let joined: String = lines.concat().split_whitespace().collect();
        let original: String = text.split_whitespace().collect();
        assert_eq!(joined, original);
    }

    #[test]
    fn wrapping_cleans_and_drops_trailing_blank_lines() {
        let fonts = Fonts::load().unwrap();
        assert_eq!(wrap(&fonts, BODY, "а\tб 王\r\n\n", 100.0), vec!["а б \u{fffd}".to_owned()]);
        assert!(wrap(&fonts, BODY, "", 100.0).is_empty());
    }
}
