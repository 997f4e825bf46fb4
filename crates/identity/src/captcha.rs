//! The self-hosted captcha: digits drawn as jittered strokes in SVG, and the accessible
//! alternative, a sum in Russian words. No outside service sees who signs in.
//!
//! Hand-written: the `captcha` crate renders PNGs through the `image` stack, a heavy
//! dependency for five digits. A captcha here is a speed bump on top of the per-address
//! and per-login throttles, not the only defence.

use std::fmt::Write as _;

/// Strokes of each digit on a 10 × 16 grid (polylines).
fn strokes(d: u8) -> &'static [&'static [(f32, f32)]] {
    match d {
        0 => &[&[
            (2.0, 1.0),
            (8.0, 1.0),
            (9.0, 8.0),
            (8.0, 15.0),
            (2.0, 15.0),
            (1.0, 8.0),
            (2.0, 1.0),
        ]],
        1 => &[&[(3.0, 4.0), (6.0, 1.0), (6.0, 15.0)], &[(3.0, 15.0), (9.0, 15.0)]],
        2 => &[&[(1.0, 4.0), (3.0, 1.0), (7.0, 1.0), (9.0, 4.0), (1.0, 15.0), (9.0, 15.0)]],
        3 => &[&[(1.0, 1.0), (9.0, 1.0), (5.0, 7.0), (9.0, 10.0), (7.0, 15.0), (1.0, 14.0)]],
        4 => &[&[(7.0, 15.0), (7.0, 1.0), (1.0, 10.0), (9.0, 10.0)]],
        5 => &[&[
            (9.0, 1.0),
            (2.0, 1.0),
            (1.0, 7.0),
            (7.0, 7.0),
            (9.0, 11.0),
            (7.0, 15.0),
            (1.0, 15.0),
        ]],
        6 => &[&[
            (8.0, 1.0),
            (3.0, 3.0),
            (1.0, 10.0),
            (3.0, 15.0),
            (8.0, 15.0),
            (9.0, 10.0),
            (6.0, 8.0),
            (1.0, 10.0),
        ]],
        7 => &[&[(1.0, 1.0), (9.0, 1.0), (4.0, 15.0)], &[(3.0, 8.0), (8.0, 8.0)]],
        8 => &[&[
            (5.0, 8.0),
            (2.0, 5.0),
            (3.0, 1.0),
            (7.0, 1.0),
            (8.0, 5.0),
            (5.0, 8.0),
            (1.0, 12.0),
            (3.0, 15.0),
            (7.0, 15.0),
            (9.0, 12.0),
            (5.0, 8.0),
        ]],
        _ => &[&[
            (9.0, 6.0),
            (4.0, 8.0),
            (1.0, 5.0),
            (3.0, 1.0),
            (8.0, 1.0),
            (9.0, 6.0),
            (7.0, 13.0),
            (2.0, 15.0),
        ]],
    }
}

fn jitter(amount: f32) -> f32 {
    (rand::random::<f32>() - 0.5) * 2.0 * amount
}

/// The digits as an SVG image with per-glyph rotation, scale and jitter, and noise lines.
pub fn svg(digits: &str) -> String {
    let (width, height) = (200.0_f32, 70.0_f32);
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="Картинка с цифрами"><rect width="100%" height="100%" fill="#f4f6f8"/>"##
    );
    for _ in 0..6 {
        let _ = write!(
            out,
            r##"<path d="M{:.1} {:.1} Q{:.1} {:.1} {:.1} {:.1}" stroke="#8a94a6" stroke-width="{:.1}" fill="none"/>"##,
            jitter(10.0) + 5.0,
            rand::random::<f32>() * height,
            rand::random::<f32>() * width,
            rand::random::<f32>() * height,
            width - 5.0 + jitter(5.0),
            rand::random::<f32>() * height,
            1.0 + rand::random::<f32>() * 1.5
        );
    }
    for (i, d) in digits.bytes().filter(u8::is_ascii_digit).enumerate() {
        let scale = 2.8 + jitter(0.4);
        let x = 14.0 + i as f32 * 36.0 + jitter(4.0);
        let y = 10.0 + jitter(6.0);
        let angle = jitter(18.0);
        let _ = write!(
            out,
            r##"<g transform="translate({x:.1} {y:.1}) rotate({angle:.1} 14 22) scale({scale:.2})" stroke="#1f2d3d" stroke-width="{:.2}" fill="none" stroke-linecap="round" stroke-linejoin="round">"##,
            1.1 + jitter(0.25)
        );
        for line in strokes(d - b'0') {
            let points: Vec<String> = line
                .iter()
                .map(|(px, py)| format!("{:.2},{:.2}", px + jitter(0.5), py + jitter(0.5)))
                .collect();
            let _ = write!(out, r#"<polyline points="{}"/>"#, points.join(" "));
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// A number from 1 to 20 in Russian words (nominative).
pub fn words(n: u32) -> &'static str {
    const WORDS: [&str; 21] = [
        "ноль",
        "один",
        "два",
        "три",
        "четыре",
        "пять",
        "шесть",
        "семь",
        "восемь",
        "девять",
        "десять",
        "одиннадцать",
        "двенадцать",
        "тринадцать",
        "четырнадцать",
        "пятнадцать",
        "шестнадцать",
        "семнадцать",
        "восемнадцать",
        "девятнадцать",
        "двадцать",
    ];
    WORDS.get(n as usize).copied().unwrap_or("ноль")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_draws_every_digit_and_hides_the_text() {
        let image = svg("40721");
        assert!(image.starts_with("<svg"));
        assert_eq!(image.matches("<g ").count(), 5);
        assert!(!image.contains("40721"), "the answer must not be in the markup");
    }

    #[test]
    fn numbers_in_words() {
        assert_eq!(words(7), "семь");
        assert_eq!(words(20), "двадцать");
    }
}
