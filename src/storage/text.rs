//! [`Text`]: a short text held by value.
//!
//! The stack's state lives in memory shared by every process on the TAP,
//! and each program maps its own copy of the library at its own address: a
//! `&'static str` recorded by one program (a trace event's cause, "rcvd
//! FIN") points into that program's copy, and another program that reads
//! it reads another program's address. State that the stack keeps holds
//! its words in a `Text` instead: the bytes themselves, no pointer.

use std::fmt;

/// Bytes a [`Text`] holds; longer texts are cut at a character boundary.
pub const TEXT_MAX: usize = 39;

/// A short text, copied in (see the module's docs).
#[derive(Clone, Copy)]
pub struct Text {
    len: u8,
    bytes: [u8; TEXT_MAX],
}

impl Text {
    /// `s`, cut to [`TEXT_MAX`] bytes at a character boundary.
    pub const fn new(s: &str) -> Text {
        let src = s.as_bytes();
        let mut len = if src.len() < TEXT_MAX {
            src.len()
        } else {
            TEXT_MAX
        };
        // Back to the start of a character (not a UTF-8 continuation byte).
        while len < src.len() && len > 0 && (src[len] & 0xc0) == 0x80 {
            len -= 1;
        }
        let mut bytes = [0u8; TEXT_MAX];
        let mut i = 0;
        while i < len {
            bytes[i] = src[i];
            i += 1;
        }
        Text {
            len: len as u8,
            bytes,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Cut at a character boundary in `new`, so always UTF-8.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s)
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_short_texts_and_cuts_long_ones_at_a_character() {
        let t = Text::from("rcvd FIN");
        assert_eq!(t, "rcvd FIN");
        assert_eq!(format!("{t} {t:?}"), "rcvd FIN \"rcvd FIN\"");
        let long = "é".repeat(30);
        let cut = Text::from(long.as_str());
        assert_eq!(cut.len(), 38);
        assert!(long.starts_with(cut.as_str()));
    }
}
