//! Attachments: a file is accepted when its content (not its name) is one of the formats
//! its rule allows, it is not larger than the limit, and it is not damaged (images are
//! decoded in full, a PDF must end as PDFs do). Each refusal names the file and says what
//! is wrong in Russian.

use std::io::Cursor;

use crate::definition::{AttachmentRule, Format};

/// The platform's limit per file when a rule sets none.
pub const DEFAULT_MAX_MB: u32 = 5;

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub format: Format,
    pub content_type: &'static str,
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Pdf => "application/pdf",
        Format::Jpg => "image/jpeg",
        Format::Png => "image/png",
        Format::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    }
}

/// «5 МБ», «6,2 МБ».
fn megabytes(bytes: usize) -> String {
    let tenths = (bytes as f64 / 1024.0 / 1024.0 * 10.0).round() as u64;
    if tenths.is_multiple_of(10) {
        format!("{} МБ", tenths / 10)
    } else {
        format!("{},{} МБ", tenths / 10, tenths % 10)
    }
}

/// Checks a file for `rule`; `limit_mb` is the platform's limit (a rule may set less).
pub fn check(
    rule: &AttachmentRule,
    name: &str,
    bytes: &[u8],
    limit_mb: u32,
) -> Result<Accepted, String> {
    let max_mb = rule.max_size_mb.map_or(limit_mb, |m| m.min(limit_mb));
    let file = format!("Файл «{name}»");
    if bytes.is_empty() {
        return Err(format!("{file}: пустой"));
    }
    if bytes.len() > max_mb as usize * 1024 * 1024 {
        return Err(format!("{file}: {} — больше допустимых {max_mb} МБ", megabytes(bytes.len())));
    }
    let allowed: Vec<&str> = rule.formats.iter().map(|f| f.title()).collect();
    let found = infer::get(bytes);
    let format = match found.map(|t| t.mime_type()) {
        Some("application/pdf") => Some(Format::Pdf),
        Some("image/jpeg") => Some(Format::Jpg),
        Some("image/png") => Some(Format::Png),
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document") => {
            Some(Format::Docx)
        }
        _ => None,
    };
    let Some(format) = format.filter(|f| rule.formats.contains(f)) else {
        let what = match found.map(|t| t.matcher_type()) {
            Some(infer::MatcherType::App) => "программа".to_owned(),
            Some(_) => format!("файл типа {}", found.map_or("", |t| t.extension()).to_uppercase()),
            None => "файл неизвестного типа".to_owned(),
        };
        return Err(format!(
            "{file}: по содержимому это {what}, а принимаются только {}",
            allowed.join(", ")
        ));
    };
    let damaged = || format!("{file}: файл повреждён и не открывается — сохраните его заново");
    match format {
        Format::Png | Format::Jpg => {
            let kind = if format == Format::Png {
                image::ImageFormat::Png
            } else {
                image::ImageFormat::Jpeg
            };
            image::load(Cursor::new(bytes), kind).map_err(|_| damaged())?;
        }
        Format::Pdf => {
            let tail = &bytes[bytes.len().saturating_sub(1024)..];
            if !tail.windows(5).any(|w| w == b"%%EOF") {
                return Err(damaged());
            }
        }
        Format::Docx => {}
    }
    Ok(Accepted { format, content_type: content_type(format) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(formats: Vec<Format>) -> AttachmentRule {
        AttachmentRule {
            id: "scan".into(),
            label: "Скан".into(),
            required: true,
            formats,
            max_size_mb: None,
            hint: None,
        }
    }

    pub(crate) fn png() -> Vec<u8> {
        let mut out = Vec::new();
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([200, 10, 10]));
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap_or_default();
        out
    }

    #[test]
    fn files_are_judged_by_content_size_and_soundness() {
        let r = rule(vec![Format::Pdf, Format::Png]);
        assert_eq!(check(&r, "a.png", &png(), 5).map(|a| a.content_type), Ok("image/png"));
        let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        assert_eq!(check(&r, "a.pdf", &pdf, 5).map(|a| a.format), Ok(Format::Pdf));
        // Too large.
        let big = vec![0u8; 6 * 1024 * 1024];
        assert_eq!(
            check(&r, "big.pdf", &big, 5),
            Err("Файл «big.pdf»: 6 МБ — больше допустимых 5 МБ".into())
        );
        // A program named .pdf.
        let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
        exe.resize(512, 0);
        let refused = check(&r, "scan.pdf", &exe, 5).unwrap_err();
        assert_eq!(
            refused,
            "Файл «scan.pdf»: по содержимому это программа, а принимаются только PDF, PNG"
        );
        // A PNG cut short.
        let mut broken = png();
        broken.truncate(broken.len() - 20);
        assert_eq!(
            check(&r, "a.png", &broken, 5).unwrap_err(),
            "Файл «a.png»: файл повреждён и не открывается — сохраните его заново"
        );
        // A JPEG where only PDF is accepted.
        let only_pdf = rule(vec![Format::Pdf]);
        assert!(check(&only_pdf, "a.png", &png(), 5).unwrap_err().contains("это файл типа PNG"));
        assert!(check(&r, "e.pdf", b"", 5).unwrap_err().ends_with("пустой"));
    }
}
