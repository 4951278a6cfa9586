//! What a dev server's output says about the code it serves: a compile
//! error (message, file, line where the framework gives them) or a build
//! that went through. Pure: lines in (ANSI already stripped, as the output
//! tail keeps them), signals out. An error is reported at its first line and
//! again each time a later line of the same block locates it better, so the
//! verdict comes as early as the dev server says anything.
//!
//! The formats are the ones the real tools print (captured in `captures/`):
//! Vite's `[vite] Internal server error:` / `Pre-transform error:` blocks
//! with their `File:` line and code frame (Vite 8, oxc), "Failed to resolve
//! import", Next's `⨯ ./app/page.js:68:4` blocks (Next 16, Turbopack), and
//! TypeScript's `file(line,col): error TS…` and `file:line:col - error TS…`.

use sync_protocol::render::{ErrorOrigin, RenderError};

/// What one line told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// A compile error, or a better-located account of the one just reported.
    Error(RenderError),
    /// The dev server built an update (`hmr update`, `page reload`, `Compiled`).
    Built,
}

/// Which tool's error block the following lines belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    Vite,
    Next,
}

/// Folds lines into signals; holds the error block being read.
#[derive(Clone, Debug, Default)]
pub struct Classifier {
    /// Absolute prefixes of the app's tree (`/app/`, the synced dir), cut
    /// from the paths tools print so files read as the app names them.
    roots: Vec<String>,
    block: Option<(Block, RenderError, bool)>,
}

impl Classifier {
    pub fn new(roots: impl IntoIterator<Item = String>) -> Classifier {
        let roots = roots
            .into_iter()
            .map(|root| format!("{}/", root.trim_end_matches('/')))
            .collect();
        Classifier { roots, block: None }
    }

    /// Takes one output line; answers what it told, if anything.
    pub fn feed(&mut self, line: &str) -> Option<Signal> {
        let text = line.trim();
        match self.start(text) {
            Some(told) => told,
            None => self.continue_block(text),
        }
    }

    /// A line that begins a block, or says something on its own: `Some`
    /// with what it told; `None` for a line of no kind of its own.
    fn start(&mut self, text: &str) -> Option<Option<Signal>> {
        if let Some(rest) = after_vite_tag(text) {
            self.block = None;
            for marker in ["Internal server error:", "Pre-transform error:"] {
                if let Some(message) = rest.split_once(marker).map(|(_, m)| m.trim()) {
                    let mut error = compile_error(message);
                    error.file = imported_from(message).map(|file| self.relative(file));
                    // "Transform failed with 1 error:" says more on a later line.
                    let awaiting = message.ends_with(':');
                    self.block = Some((Block::Vite, error.clone(), awaiting));
                    return Some(Some(Signal::Error(error)));
                }
            }
            if rest.contains("hmr update ") || rest.contains("page reload ") {
                return Some(Some(Signal::Built));
            }
            return Some(None);
        }
        if let Some(location) = text.strip_prefix("⨯ ") {
            let (file, line) = split_location(location.trim());
            let mut error = compile_error("");
            error.file = file.map(|file| self.relative(file));
            error.line = line;
            self.block = Some((Block::Next, error, true));
            return Some(None);
        }
        if text.starts_with("✓ Compiled") || text.starts_with("Found 0 errors") {
            self.block = None;
            return Some(Some(Signal::Built));
        }
        if let Some(error) = self.typescript(text) {
            self.block = None;
            return Some(Some(Signal::Error(error)));
        }
        None
    }

    /// A line inside the block being read: a better message or location.
    fn continue_block(&mut self, text: &str) -> Option<Signal> {
        let (block, error, awaiting) = self.block.as_mut()?;
        if text.starts_with("at ") {
            self.block = None;
            return None;
        }
        let mut changed = false;
        if *awaiting && !text.is_empty() {
            let message = match block {
                Block::Next => text.strip_prefix("Error:").unwrap_or(text).trim(),
                Block::Vite => text,
            };
            error.message = message.to_owned();
            *awaiting = false;
            changed = true;
        } else if *block == Block::Vite {
            let located = text
                .strip_prefix("File:")
                .or_else(|| framed_location(text))
                .map(|location| split_location(location.trim()));
            if let Some((Some(file), line)) = located {
                let file = relative_to(&self.roots, file);
                let line = line.or(if error.file.as_deref() == Some(&file) {
                    error.line
                } else {
                    None
                });
                changed = error.file.as_deref() != Some(&file) || error.line != line;
                error.file = Some(file);
                error.line = line;
            }
        }
        changed.then(|| Signal::Error(error.clone()))
    }

    fn typescript(&self, text: &str) -> Option<RenderError> {
        // `src/App.tsx(8,46): error TS2345: …` or `src/App.tsx:8:46 - error TS2345: …`
        let (location, message) = text
            .split_once(": error TS")
            .or_else(|| text.split_once(" - error TS"))?;
        let (file, line) = match location.split_once('(') {
            Some((file, position)) => (Some(file), position.split(',').next()?.parse().ok()),
            None => split_location(location),
        };
        let file = file?;
        let mut error = compile_error(&format!("TS{message}"));
        error.file = Some(self.relative(file));
        error.line = line;
        Some(error)
    }

    fn relative(&self, file: &str) -> String {
        relative_to(&self.roots, file)
    }

    /// The roots cut from paths (each ending in `/`).
    pub fn roots(&self) -> &[String] {
        &self.roots
    }
}

fn compile_error(message: &str) -> RenderError {
    RenderError {
        message: message.to_owned(),
        file: None,
        line: None,
        origin: ErrorOrigin::Compile,
    }
}

/// What follows `[vite]` (after an optional timestamp), if the line has it.
fn after_vite_tag(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once("[vite] ")?;
    Some(rest.trim_start_matches("(client) ").trim())
}

/// The `"src/App.tsx"` of `Failed to resolve import "./x" from "src/App.tsx".`
fn imported_from(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("Failed to resolve import ")?;
    let (_, after) = rest.split_once(" from \"")?;
    after.split('"').next()
}

/// The location in oxc's code frame header: `╭─[ src/App.tsx:120:1 ]`.
fn framed_location(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once("─[")?;
    rest.split(']').next()
}

/// `path:line:col`, `path:line` or `path` → path and line.
fn split_location(location: &str) -> (Option<&str>, Option<u32>) {
    let mut parts = location.rsplitn(3, ':');
    let last = parts.next();
    let middle = parts.next();
    let first = parts.next();
    let number = |part: Option<&str>| part.and_then(|text| text.trim().parse::<u32>().ok());
    match (first, number(middle), number(last)) {
        (Some(path), Some(line), Some(_)) => (Some(path), Some(line)),
        _ => match (middle, number(last)) {
            (Some(path), Some(line)) if first.is_none() => (Some(path), Some(line)),
            _ if location.is_empty() => (None, None),
            _ => (Some(location), None),
        },
    }
}

/// `file` as the app names it: without one of `roots` or a leading `./`.
pub fn relative_to(roots: &[String], file: &str) -> String {
    let file = roots
        .iter()
        .find_map(|root| file.strip_prefix(root.as_str()))
        .unwrap_or(file);
    file.trim_start_matches("./").to_owned()
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
