//! The two vendored DejaVu faces: character → glyph maps and advances for layout, and the
//! krilla fonts that embed a subset of each face into the PDF.
//!
//! Text is laid out here, glyph by glyph, instead of by a shaping engine: Cyrillic and
//! Latin need no shaping, and measuring exactly what is drawn keeps wrapping and right
//! alignment exact. Kerning is not applied (most PDF generators do the same).

use std::collections::HashMap;
use std::ops::Range;

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

use crate::PrintError;

/// DejaVu Sans 2.37 (Debian `fonts-dejavu-core`); licence in `fonts/LICENSE`.
const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold 2.37, same origin and licence.
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Drawn in place of a character the fonts lack: U+FFFD, a question mark in a diamond,
/// which both faces have and which cannot be mistaken for a real «?» in the data.
pub(crate) const REPLACEMENT: char = '\u{fffd}';

/// Which of the two faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

/// One face: its krilla font and its metrics in em units.
pub(crate) struct Face {
    font: Font,
    /// Glyph of every character of the Basic Multilingual Plane, 0 where there is none:
    /// a direct index, since layout looks up every character several times.
    bmp: Vec<u16>,
    /// Glyphs of characters beyond it.
    astral: HashMap<char, u16>,
    /// Advance width of each glyph, in em.
    advances: Vec<f32>,
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Face").field("astral", &self.astral.len()).finish_non_exhaustive()
    }
}

impl Face {
    fn load(bytes: &'static [u8], name: &'static str) -> Result<Self, PrintError> {
        let broken = || PrintError::Font { name };
        let face = FontRef::new(bytes).map_err(|_| broken())?;
        let metrics = face.metrics(Size::unscaled(), LocationRef::default());
        let upem = f32::from(metrics.units_per_em);
        if upem <= 0.0 {
            return Err(broken());
        }
        let glyph_metrics = face.glyph_metrics(Size::unscaled(), LocationRef::default());
        let advances = (0..u32::from(metrics.glyph_count))
            .map(|id| glyph_metrics.advance_width(id.into()).unwrap_or(0.0) / upem)
            .collect();
        let mut bmp = vec![0; 0x1_0000];
        let mut astral = HashMap::new();
        for (code, glyph) in face.charmap().mappings() {
            let (Ok(glyph), Some(ch)) = (u16::try_from(glyph.to_u32()), char::from_u32(code))
            else {
                continue;
            };
            match bmp.get_mut(code as usize) {
                Some(slot) => *slot = glyph,
                None => {
                    astral.insert(ch, glyph);
                }
            }
        }
        let font = Font::new(bytes.into(), 0).ok_or_else(broken)?;
        Ok(Self { font, bmp, astral, advances })
    }

    fn glyph(&self, ch: char) -> Option<u16> {
        let glyph = match self.bmp.get(ch as usize) {
            Some(glyph) => *glyph,
            None => self.astral.get(&ch).copied().unwrap_or(0),
        };
        (glyph != 0).then_some(glyph)
    }

    fn advance(&self, glyph: u16) -> f32 {
        self.advances.get(usize::from(glyph)).copied().unwrap_or(0.0)
    }

    /// Width of `text` at `size` points. Characters the face lacks count as the
    /// replacement character, which is what [`Fonts::clean`] puts in their place.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        let replacement = self.glyph(REPLACEMENT).unwrap_or(0);
        text.chars().map(|ch| self.advance(self.glyph(ch).unwrap_or(replacement))).sum::<f32>()
            * size
    }

    /// The glyphs of `text`, one per character (so the ToUnicode map of the PDF gives
    /// back exactly `text`), with their advances normalized to the em.
    ///
    /// `tracking` em are added after every glyph (letter spacing), so that the
    /// characters of a code stand apart.
    pub(crate) fn glyphs(&self, text: &str, tracking: f32) -> Vec<KrillaGlyph> {
        let replacement = self.glyph(REPLACEMENT).unwrap_or(0);
        text.char_indices()
            .map(|(at, ch)| {
                let glyph = self.glyph(ch).unwrap_or(replacement);
                let x_advance = self.advance(glyph) + tracking;
                let range: Range<usize> = at..at + ch.len_utf8();
                KrillaGlyph::new(
                    GlyphId::new(u32::from(glyph)),
                    x_advance,
                    0.0,
                    0.0,
                    0.0,
                    range,
                    None,
                )
            })
            .collect()
    }

    pub(crate) fn font(&self) -> Font {
        self.font.clone()
    }
}

/// Both faces, loaded once per document.
#[derive(Debug)]
pub(crate) struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    pub(crate) fn load() -> Result<Self, PrintError> {
        Ok(Self {
            regular: Face::load(REGULAR, "DejaVuSans")?,
            bold: Face::load(BOLD, "DejaVuSans-Bold")?,
        })
    }

    pub(crate) fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    /// The first character of `text` that one of the faces cannot draw.
    pub(crate) fn missing(&self, text: &str) -> Option<char> {
        text.chars().find(|&ch| {
            !ch.is_control() && (self.regular.glyph(ch).is_none() || self.bold.glyph(ch).is_none())
        })
    }

    /// `text` made printable: tabs and other control characters become spaces (line
    /// breaks are the caller's business and must be split off first), characters neither
    /// face has become [`REPLACEMENT`].
    pub(crate) fn clean(&self, text: &str) -> String {
        text.chars()
            .map(|ch| {
                if ch.is_control() {
                    ' '
                } else if self.regular.glyph(ch).is_none() || self.bold.glyph(ch).is_none() {
                    REPLACEMENT
                } else {
                    ch
                }
            })
            .collect()
    }
}
