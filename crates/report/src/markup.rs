//! A tiny well-formedness checker for the markup this crate writes.
//!
//! The pages are written as *polyglot* HTML: valid HTML5 that is also well-formed XML
//! (every element closed, attributes quoted, `&` always an entity). That lets this
//! checker — and a browser loading the page as XHTML — catch a broken tag structurally,
//! without an HTML parser dependency. It is used by the tests and, in debug builds, on
//! every page before it is returned.

/// Checks that `text` is well-formed: tags balanced and properly nested, attribute values
/// quoted, `<` never in text or attribute values, `&` only as an entity.
///
/// Comments (`<!-- -->`) and declarations (`<!DOCTYPE …>`) are skipped. The error names
/// the line and what was wrong.
pub fn check_well_formed(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut stack: Vec<&str> = Vec::new();
    let mut position = 0;
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    while position < bytes.len() {
        match bytes[position] {
            b'<' => {
                let rest = &text[position..];
                if rest.starts_with("<!--") {
                    let end =
                        rest.find("-->").ok_or_else(|| format!("line {}: comment not closed", line_of(position)))?;
                    position += end + 3;
                } else if rest.starts_with("<!") {
                    let end =
                        rest.find('>').ok_or_else(|| format!("line {}: declaration not closed", line_of(position)))?;
                    position += end + 1;
                } else if let Some(after) = rest.strip_prefix("</") {
                    let end =
                        after.find('>').ok_or_else(|| format!("line {}: closing tag not closed", line_of(position)))?;
                    let name = after[..end].trim();
                    match stack.pop() {
                        Some(open) if open == name => {}
                        Some(open) => {
                            return Err(format!("line {}: `</{name}>` closes `<{open}>`", line_of(position)));
                        }
                        None => {
                            return Err(format!("line {}: `</{name}>` closes nothing", line_of(position)));
                        }
                    }
                    position += 2 + end + 1;
                } else {
                    let (name, length, self_closing) =
                        read_start_tag(rest).map_err(|message| format!("line {}: {message}", line_of(position)))?;
                    if !self_closing {
                        stack.push(name);
                    }
                    position += length;
                }
            }
            b'&' => {
                let rest = &text[position + 1..];
                let end = rest
                    .find(';')
                    .filter(|end| *end <= 10)
                    .ok_or_else(|| format!("line {}: bare `&` (write `&amp;`)", line_of(position)))?;
                let entity = &rest[..end];
                let valid = match entity.strip_prefix('#') {
                    Some(number) => match number.strip_prefix('x') {
                        Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
                        None => !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
                    },
                    None => !entity.is_empty() && entity.chars().all(|c| c.is_ascii_alphanumeric()),
                };
                if !valid {
                    return Err(format!("line {}: bad entity `&{entity};`", line_of(position)));
                }
                position += 1 + end + 1;
            }
            _ => position += 1,
        }
    }
    match stack.last() {
        Some(open) => Err(format!("`<{open}>` is never closed")),
        None => Ok(()),
    }
}

/// Reads `<name attr="v" …>` or `<name … />`; returns the name, the tag's byte length and
/// whether it closes itself.
fn read_start_tag(tag: &str) -> Result<(&str, usize, bool), String> {
    let bytes = tag.as_bytes();
    let name_end = tag[1..]
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .map(|end| end + 1)
        .ok_or("tag not closed")?;
    let name = &tag[1..name_end];
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
        return Err(format!("bad tag name `{name}`"));
    }
    let mut index = name_end;
    loop {
        while index < bytes.len() && bytes[index].is_ascii_whitespace() {
            index += 1;
        }
        match bytes.get(index) {
            None => return Err(format!("`<{name}` is not closed")),
            Some(b'>') => return Ok((name, index + 1, false)),
            Some(b'/') if bytes.get(index + 1) == Some(&b'>') => return Ok((name, index + 2, true)),
            Some(_) => {
                let attribute_end = tag[index..]
                    .find('=')
                    .map(|end| end + index)
                    .ok_or_else(|| format!("attribute without value in `<{name}>`"))?;
                let attribute = tag[index..attribute_end].trim();
                if attribute.is_empty()
                    || !attribute.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':' || c == '_')
                {
                    return Err(format!("bad attribute name `{attribute}` in `<{name}>`"));
                }
                let quote = *bytes.get(attribute_end + 1).ok_or_else(|| format!("`<{name}` is not closed"))?;
                if quote != b'"' && quote != b'\'' {
                    return Err(format!("unquoted value for `{attribute}` in `<{name}>`"));
                }
                let value_start = attribute_end + 2;
                let value_end = tag[value_start..]
                    .find(quote as char)
                    .map(|end| end + value_start)
                    .ok_or_else(|| format!("value of `{attribute}` in `<{name}>` not closed"))?;
                if tag[value_start..value_end].contains('<') {
                    return Err(format!("`<` inside the value of `{attribute}` in `<{name}>`"));
                }
                index = value_end + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_well_formed;

    #[test]
    fn accepts_balanced_markup() {
        let page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"/></head>\
                    <body><!-- note --><p class='a'>x &amp; y &#8212; z</p><svg><path d=\"M0,0\"/></svg></body></html>";
        assert_eq!(check_well_formed(page), Ok(()));
    }

    #[test]
    fn rejects_broken_markup() {
        assert!(check_well_formed("<p><b>x</p></b>").unwrap_err().contains("closes `<b>`"));
        assert!(check_well_formed("<p>x").unwrap_err().contains("never closed"));
        assert!(check_well_formed("<p>a & b</p>").unwrap_err().contains("bare"));
        assert!(check_well_formed("<p class=a>x</p>").unwrap_err().contains("unquoted"));
        assert!(check_well_formed("</p>").is_err());
        assert!(check_well_formed("<meta charset=\"utf-8\">").is_err());
    }
}
