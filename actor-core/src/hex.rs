//! Lower-case hex for ids and locators.

/// Decodes exactly `out.len() * 2` hex digits (either case, nothing else) into `out`.
pub(crate) fn decode_into(s: &str, out: &mut [u8]) -> Result<(), ()> {
    let s = s.as_bytes();
    if s.len() != out.len() * 2 {
        return Err(());
    }
    for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let [hi, lo] = pair else { return Err(()) };
        *byte = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Ok(())
}

fn nibble(c: u8) -> Result<u8, ()> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(()),
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn signs_and_spaces_are_not_hex() {
        let mut out = [0u8; 1];
        assert_eq!(super::decode_into("+f", &mut out), Err(()));
        assert_eq!(super::decode_into(" f", &mut out), Err(()));
        assert_eq!(super::decode_into("Af", &mut out), Ok(()));
        assert_eq!(out, [0xaf]);
    }
}
