//! The git CLI, run with a scrubbed environment. The CLI rather than a
//! pure-Rust client: it is on every machine here and in the runtime image,
//! fetches one ref shallowly over https, http and git, and takes the token
//! through the environment (`GIT_CONFIG_COUNT`/`KEY_0`/`VALUE_0` setting an
//! `http.extraHeader`), so the token is never in argv, in a file or in git's
//! output. Only the `http`, `https` and `git` transports are allowed.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use tokio::process::Command;

use super::error::ImportError;

/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

/// What `git ls-remote` says about a repository.
pub struct Remote {
    /// The branch `HEAD` points at (`main`, say).
    pub default_branch: String,
    /// Full ref names (`refs/heads/main`, `refs/tags/v1`).
    pub refs: Vec<String>,
}

/// Where to fetch from, with the token kept apart from the URL.
pub struct Source<'a> {
    pub url: &'a str,
    pub token: Option<&'a str>,
}

impl Source<'_> {
    fn command(&self, dir: Option<&Path>) -> Command {
        let mut command = Command::new("git");
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_ALLOW_PROTOCOL", "http:https:git")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(token) = self.token {
            let credentials =
                base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
            command
                .env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env(
                    "GIT_CONFIG_VALUE_0",
                    format!("Authorization: Basic {credentials}"),
                );
        }
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        command
    }

    /// Lists the repository's branches and tags, and its default branch.
    pub async fn ls_remote(&self) -> Result<Remote, ImportError> {
        let mut command = self.command(None);
        // No patterns and no --heads/--tags: a pattern (even `HEAD`) filters
        // the listing down to what it matches, and --heads drops HEAD itself,
        // whose `ref:` line names the default branch. Branches and tags are
        // picked from the whole listing below.
        command.args(["ls-remote", "--symref", self.url]);
        let output = run(command, "ls-remote").await?;
        if !output.status.success() {
            return Err(ImportError::not_accessible(self.url, self.token.is_some()));
        }
        Ok(parse_listing(&String::from_utf8_lossy(&output.stdout)))
    }

    /// Fetches `full_ref` with depth 1 into a new repository at `dir` and
    /// checks it out; answers the commit.
    pub async fn fetch(&self, full_ref: &str, dir: &Path) -> Result<String, ImportError> {
        let mut init = self.command(Some(dir));
        init.args(["init", "-q"]);
        check(run(init, "init").await?, "init")?;
        let mut fetch = self.command(Some(dir));
        fetch.args([
            "fetch",
            "-q",
            "--depth",
            "1",
            "--no-tags",
            self.url,
            full_ref,
        ]);
        let output = run(fetch, "fetch").await?;
        if !output.status.success() {
            return Err(ImportError::not_accessible(self.url, self.token.is_some()));
        }
        let mut checkout = self.command(Some(dir));
        checkout.args(["-c", "core.symlinks=false", "checkout", "-q", "FETCH_HEAD"]);
        check(run(checkout, "checkout").await?, "checkout")?;
        let mut rev_parse = self.command(Some(dir));
        rev_parse.args(["rev-parse", "HEAD"]);
        let output = check(run(rev_parse, "rev-parse").await?, "rev-parse")?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The regular files of the checked-out commit (no symlinks, no
    /// submodules), less those the repository's `.gitignore` files exclude.
    pub async fn tracked_files(&self, dir: &Path) -> Result<Vec<String>, ImportError> {
        let mut ls_tree = self.command(Some(dir));
        ls_tree.args(["ls-tree", "-r", "-z", "HEAD"]);
        let output = check(run(ls_tree, "ls-tree").await?, "ls-tree")?;
        let listing = String::from_utf8_lossy(&output.stdout);
        let files: Vec<String> = listing
            .split('\0')
            .filter_map(|entry| {
                let (meta, path) = entry.split_once('\t')?;
                let mode = meta.split(' ').next()?;
                matches!(mode, "100644" | "100755").then(|| path.to_owned())
            })
            .collect();
        let ignored = self.ignored(dir, &files).await?;
        Ok(files
            .into_iter()
            .filter(|path| !ignored.contains(path))
            .collect())
    }

    /// Which of `paths` the `.gitignore` files in the tree exclude.
    async fn ignored(
        &self,
        dir: &Path,
        paths: &[String],
    ) -> Result<std::collections::BTreeSet<String>, ImportError> {
        use tokio::io::AsyncWriteExt;
        let mut command = self.command(Some(dir));
        command
            .args(["check-ignore", "--no-index", "-z", "--stdin"])
            .stdin(Stdio::piped());
        let mut child = command.spawn().map_err(|error| ImportError::Git {
            step: "check-ignore",
            reason: error.to_string(),
        })?;
        let mut input = Vec::new();
        for path in paths {
            input.extend_from_slice(path.as_bytes());
            input.push(0);
        }
        let mut stdin = child.stdin.take().expect("piped stdin");
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
        let output = tokio::time::timeout(GIT_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| timed_out("check-ignore"))?
            .map_err(|error| ImportError::Git {
                step: "check-ignore",
                reason: error.to_string(),
            })?;
        let _ = writer.await;
        // Exit 1 means nothing is ignored.
        if !matches!(output.status.code(), Some(0 | 1)) {
            return Err(git_failed("check-ignore", &output));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .split('\0')
            .filter(|path| !path.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// `git ls-remote --symref` output: the default branch from HEAD's `ref:`
/// line, branches and tags (peeled `^{}` entries left out).
fn parse_listing(text: &str) -> Remote {
    let mut remote = Remote {
        default_branch: String::new(),
        refs: Vec::new(),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("ref: ") {
            if let Some((target, "HEAD")) = rest.split_once('\t') {
                remote.default_branch = target.trim_start_matches("refs/heads/").to_owned();
            }
        } else if let Some((_, name)) = line.split_once('\t')
            && (name.starts_with("refs/heads/") || name.starts_with("refs/tags/"))
            && !name.ends_with("^{}")
        {
            remote.refs.push(name.to_owned());
        }
    }
    if remote.default_branch.is_empty() {
        // A server that does not advertise HEAD's target: the usual names, else the first branch.
        let heads: Vec<&str> = remote
            .refs
            .iter()
            .filter_map(|name| name.strip_prefix("refs/heads/"))
            .collect();
        remote.default_branch = ["main", "master"]
            .into_iter()
            .find(|name| heads.contains(name))
            .or(heads.first().copied())
            .unwrap_or_default()
            .to_owned();
    }
    remote
}

async fn run(
    mut command: Command,
    step: &'static str,
) -> Result<std::process::Output, ImportError> {
    tokio::time::timeout(GIT_TIMEOUT, command.output())
        .await
        .map_err(|_| timed_out(step))?
        .map_err(|error| ImportError::Git {
            step,
            reason: format!("cannot run git ({error}); is git installed?"),
        })
}

fn check(
    output: std::process::Output,
    step: &'static str,
) -> Result<std::process::Output, ImportError> {
    if output.status.success() {
        Ok(output)
    } else {
        Err(git_failed(step, &output))
    }
}

/// git's last line of stderr: it never holds the token, which travels in
/// the environment only.
fn git_failed(step: &'static str, output: &std::process::Output) -> ImportError {
    let stderr = String::from_utf8_lossy(&output.stderr);
    ImportError::Git {
        step,
        reason: stderr
            .lines()
            .last()
            .unwrap_or("no output")
            .trim()
            .to_owned(),
    }
}

fn timed_out(step: &'static str) -> ImportError {
    ImportError::Git {
        step,
        reason: format!("took longer than {} s", GIT_TIMEOUT.as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_gives_the_default_branch_and_the_branches_and_tags() {
        let cases: [(&str, &str, &[&str]); 3] = [
            (
                "ref: refs/heads/trunk\tHEAD\n\
                 aaa\tHEAD\n\
                 aaa\trefs/heads/trunk\n\
                 bbb\trefs/heads/feature\n\
                 ccc\trefs/tags/v1\n\
                 aaa\trefs/tags/v1^{}\n\
                 ddd\trefs/pull/1/head\n",
                "trunk",
                &["refs/heads/trunk", "refs/heads/feature", "refs/tags/v1"],
            ),
            (
                "bbb\trefs/heads/feature\naaa\trefs/heads/master\n",
                "master",
                &["refs/heads/feature", "refs/heads/master"],
            ),
            ("", "", &[]),
        ];
        for (listing, default_branch, refs) in cases {
            let remote = parse_listing(listing);
            assert_eq!(remote.default_branch, default_branch, "{listing}");
            assert_eq!(remote.refs, refs, "{listing}");
        }
    }
}
