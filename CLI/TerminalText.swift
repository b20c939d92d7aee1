/// Text from outside (torrent names, file paths, comments, tracker URLs and messages, error reasons that
/// quote them) made safe to print: a crafted name must not move the cursor, retitle the window, hide a line
/// or fake one.
enum TerminalText {
    /// `text` with every control character written as an escape: C0 controls (newline and tab included) and
    /// DEL as `\xNN`, C1 controls (U+0080–U+009F, which some terminals treat as ESC sequences) and the
    /// Unicode bidirectional controls that reorder what is shown (U+061C, U+200E, U+200F, U+202A–U+202E,
    /// U+2066–U+2069) as `\u{NNNN}`. Everything else, non-ASCII letters included, is kept. Invalid UTF-8 was
    /// already replaced by U+FFFD when the text was decoded.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            let hex = String(scalar.value, radix: 16, uppercase: true)
            if scalar.value < 0x80 {
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                out += "\\u{" + hex + "}"
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}

extension String {
    /// This text with control characters escaped for a terminal (``TerminalText/escaped(_:)``).
    var terminalSafe: String { TerminalText.escaped(self) }
}
