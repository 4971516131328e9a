//! The OpenAPI 3.1 documents of the dialects (`openapi/<dialect>.json`,
//! written from the vendor documents and DESIGN.md §3), served at
//! `/openapi/<dialect>.json` in every mode. The files are compiled in, so
//! the binary serves exactly what the repository holds; this module only
//! finds and answers them — it never builds or edits a document.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};

use crate::dialect::{Dialect, Rejection};

/// Where the documents are served.
pub const PREFIX: &str = "/openapi/";

/// The document of `dialect`, as the repository holds it.
pub fn document(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Native => include_str!("../../openapi/native.json"),
        Dialect::Rees46 => include_str!("../../openapi/rees46.json"),
        Dialect::Sigmasms => include_str!("../../openapi/sigmasms.json"),
        Dialect::Valify => include_str!("../../openapi/valify.json"),
        Dialect::Nomado => include_str!("../../openapi/nomado.json"),
        Dialect::Loyaltydog => include_str!("../../openapi/loyaltydog.json"),
    }
}

/// The answer to a request for `/openapi/<name>`: the document (GET,
/// HEAD), 405 for other methods, native's 404 for an unknown name.
pub fn respond(method: &Method, name: &str) -> Response<Full<Bytes>> {
    let dialect = name.strip_suffix(".json").and_then(Dialect::from_name);
    let Some(dialect) = dialect else {
        return Dialect::Native.reject(Rejection::NotFound).into_response();
    };
    if method != Method::GET && method != Method::HEAD {
        return Dialect::Native
            .reject(Rejection::MethodNotAllowed("GET, HEAD"))
            .into_response();
    }
    let body = if method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(document(dialect).as_bytes())
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_has_an_openapi_3_1_document_with_its_paths() {
        for dialect in Dialect::ALL {
            let doc: serde_json::Value = serde_json::from_str(document(dialect))
                .unwrap_or_else(|e| panic!("openapi/{}.json: {e}", dialect.name()));
            assert_eq!(doc["openapi"], "3.1.0", "{}", dialect.name());
            let paths = doc["paths"].as_object().expect("paths");
            assert!(paths.len() >= 2, "{}: {paths:?}", dialect.name());
            for (path, item) in paths {
                assert_eq!(
                    Dialect::route(path).map(|(d, _)| d),
                    Some(dialect),
                    "{path} in openapi/{}.json is not a route of that dialect",
                    dialect.name()
                );
                assert!(item["post"]["responses"].is_object(), "{path}");
            }
        }
    }
}
