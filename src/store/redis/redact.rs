//! Redis URLs with their credentials blanked, for every log line, error and
//! `Debug` that shows one.
//!
//! `redis://:secret@host:6379/0` → `redis://:***@host:6379/0`;
//! `rediss://app:secret@host` → `rediss://app:***@host` (the user name
//! stays: it says which account, not how to get in);
//! `redis+cluster://:a@h1:7000,:b@h2:7000` → each node alike. A lone
//! user-info part (`redis://secret@host`) is taken for a secret, since
//! some clients read it as the password. A `password=` query parameter is
//! blanked too. What cannot be read as a URL is blanked whole when it
//! holds an `@`.

/// `url` with every password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return if url.contains('@') {
            "***".to_string()
        } else {
            url.to_string()
        };
    };
    let (authority, tail) = split_authority(rest);
    let nodes: Vec<String> = if scheme.contains("cluster") {
        authority.split(',').map(redact_node).collect()
    } else {
        vec![redact_node(authority)]
    };
    format!("{scheme}://{}{}", nodes.join(","), redact_query(tail))
}

/// Replaces every occurrence of a password of `url` in `text` by `***`
/// (for error texts written by others that might quote it).
pub fn scrub(text: &str, url: &str) -> String {
    let mut text = text.to_string();
    for secret in secrets(url) {
        text = text.replace(&secret, "***");
    }
    text
}

/// The passwords (and lone user-info parts) a URL carries, longest first.
pub(crate) fn secrets(url: &str) -> Vec<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let (authority, tail) = split_authority(rest);
    let mut found: Vec<String> = authority
        .split(',')
        .filter_map(|node| node.rsplit_once('@'))
        .map(|(userinfo, _)| match userinfo.split_once(':') {
            Some((_, password)) => password.to_string(),
            None => userinfo.to_string(),
        })
        .collect();
    if let Some(query) = tail.split_once('?').map(|(_, q)| q) {
        for pair in query.split('&') {
            if let Some(("password", value)) = pair.split_once('=') {
                found.push(value.to_string());
            }
        }
    }
    found.retain(|s| !s.is_empty());
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found
}

/// Splits `host…/path?query` after the authority: at the first `/` or `?`
/// after the last `@` (a password may hold either).
fn split_authority(rest: &str) -> (&str, &str) {
    let from = rest.rfind('@').map_or(0, |at| at + 1);
    let end = rest[from..]
        .find(['/', '?', '#'])
        .map_or(rest.len(), |i| from + i);
    rest.split_at(end)
}

fn redact_node(node: &str) -> String {
    match node.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("***@{host}"),
        },
        // Not `host[:port]`: a piece of a password split at a comma.
        None if !looks_like_host(node) => "***".to_string(),
        None => node.to_string(),
    }
}

fn looks_like_host(node: &str) -> bool {
    let (host, port) = match node.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => match port.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match node.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (node, None),
        },
    };
    !host.is_empty() && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("password", _)) => "password=***".to_string(),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_blanked_in_every_form() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            (
                "redis://:secret@10.0.0.1:6379",
                "redis://:***@10.0.0.1:6379",
            ),
            (
                "redis://:secret@10.0.0.1:6379/2",
                "redis://:***@10.0.0.1:6379/2",
            ),
            (
                "rediss://app:s3cr3t@cache.example:6380",
                "rediss://app:***@cache.example:6380",
            ),
            ("redis://secret@host", "redis://***@host"),
            ("redis://app:p@ss/w?rd@host:1/0", "redis://app:***@host:1/0"),
            (
                "redis://host:1/0?password=secret&protocol=resp3",
                "redis://host:1/0?password=***&protocol=resp3",
            ),
            ("redis://[::1]:6379", "redis://[::1]:6379"),
            ("redis://:secret@[::1]:6379", "redis://:***@[::1]:6379"),
            (
                "redis+cluster://:a1@h1:7000,:b2@h2:7001,h3:7002",
                "redis+cluster://:***@h1:7000,:***@h2:7001,h3:7002",
            ),
            (
                "redis+cluster://[::1]:7000,[::2]",
                "redis+cluster://[::1]:7000,[::2]",
            ),
            (
                "redis+cluster://:pa,ss@h1:7000",
                "redis+cluster://***,***@h1:7000",
            ),
            ("user:secret@host", "***"),
            ("memory", "memory"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            for secret in ["secret", "s3cr3t", "a1", "b2", "ss/w?rd"] {
                assert!(
                    !redact_url(url).contains(secret) || !url.contains(secret),
                    "{url}"
                );
            }
        }
    }

    #[test]
    fn error_texts_lose_the_password() {
        let url = "redis://app:hunter2@db:6379";
        assert_eq!(
            scrub("auth failed for app:hunter2 at db", url),
            "auth failed for app:*** at db"
        );
        assert_eq!(secrets("redis+cluster://:x@a:1,:yy@b:2"), ["yy", "x"]);
        assert!(secrets("redis://db:6379").is_empty());
    }
}
