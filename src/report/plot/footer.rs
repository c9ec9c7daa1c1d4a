//! The footer under a chart: notes in whole sentences, word-wrapped to the image width, so that
//! what a figure leaves out (a target not met, a missing point) is stated on the figure itself.

use plotters::style::text_anchor::{HPos, VPos};

use super::{MUTED, NOTE_PX, Root, WIDTH, anchored, font, put_text, text_width};

/// Left margin of footer text.
const LEFT: f64 = 20.0;
/// Vertical pitch of note lines.
const ROW: f64 = NOTE_PX + 5.0;
/// Indent of a note's continuation lines, past its bullet.
const HANG: f64 = 12.0;

/// Splits `text` into lines no wider than `width` pixels at `px`, breaking between words; a
/// single word wider than the line keeps a line of its own.
pub(super) fn wrap(text: &str, px: f64, width: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, px) > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_owned()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Notes laid out as bulleted, wrapped lines.
#[derive(Debug, Clone, Default)]
pub(super) struct Notes {
    /// `(indent, text)` per drawn line.
    lines: Vec<(f64, String)>,
}

impl Notes {
    /// Lays out `notes`, one bullet each.
    pub fn new(notes: &[String]) -> Self {
        let width = f64::from(WIDTH) - 2.0 * LEFT - HANG;
        let mut lines = Vec::new();
        for note in notes.iter().filter(|n| !n.trim().is_empty()) {
            for (i, l) in wrap(note, NOTE_PX, width).into_iter().enumerate() {
                if i == 0 {
                    lines.push((0.0, format!("• {l}")));
                } else {
                    lines.push((HANG, l));
                }
            }
        }
        Notes { lines }
    }

    /// Pixels the notes take, with a margin below; 0 without notes.
    pub fn height(&self) -> f64 {
        if self.lines.is_empty() {
            0.0
        } else {
            ROW * self.lines.len() as f64 + 10.0
        }
    }

    /// Draws the notes with their first line's top at `top`.
    pub fn draw(&self, root: &Root, top: f64) -> Result<(), String> {
        for (i, (indent, text)) in self.lines.iter().enumerate() {
            let at = (
                (LEFT + indent).round() as i32,
                (top + ROW * i as f64).round() as i32,
            );
            let style = anchored(font(NOTE_PX), MUTED, HPos::Left, VPos::Top);
            put_text(root, text, at, style)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_in_order_within_the_width() {
        let text = "at 32 µs median read even 20 TB/s leaves decode 21 % below the all-HBM \
                    baseline, so no read bandwidth meets any of the three targets";
        let lines = wrap(text, NOTE_PX, 200.0);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|l| text_width(l, NOTE_PX) <= 200.0));
        assert_eq!(
            lines.join(" "),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert_eq!(wrap("", NOTE_PX, 100.0), Vec::<String>::new());
        assert_eq!(wrap("unbreakable", NOTE_PX, 5.0), ["unbreakable"]);
    }

    #[test]
    fn notes_take_room_only_when_present() {
        assert_eq!(Notes::new(&[]).height(), 0.0);
        assert_eq!(Notes::new(&["  ".into()]).height(), 0.0);
        let n = Notes::new(&["one".into(), "two".into()]);
        assert_eq!(n.lines.len(), 2);
        assert!(n.lines.iter().all(|(_, l)| l.starts_with("• ")));
    }
}
