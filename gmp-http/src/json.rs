//! JSON bodies (cargo feature `json`): `Request::json` reads and decodes the body with
//! serde, turning what is wrong into the status a client should get (415 not JSON, 413
//! over the body limit, 400 malformed); `Response::json` encodes a value as the body.

use crate::request::Request;
use crate::response::Response;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, Read};

impl Request<'_> {
    /// Reads the whole body and decodes it as JSON into a `T`.
    ///
    /// Errors carry a [`BodyError`](crate::BodyError) whose status the server answers
    /// with when the handler returns the error: 415 when `Content-Type` is not JSON
    /// (`application/json` or a `+json` type), 413 when the body is over the server's
    /// `max_body_bytes` (chunked bodies included, as soon as they cross it), 400 with
    /// serde's message (line and column) when the JSON is malformed or does not fit `T`.
    ///
    /// ```no_run
    /// #[derive(serde::Deserialize)]
    /// struct NewItem { name: String }
    ///
    /// gmp_http::Server::bind("127.0.0.1:8080")?.serve(|req, res| {
    ///     let item: NewItem = req.json()?; // 400/413/415 for the client if it fails
    ///     res.status(201).json(&serde_json::json!({ "created": item.name }))?;
    ///     Ok(())
    /// })
    /// # ; Ok::<(), std::io::Error>(())
    /// ```
    pub fn json<T: DeserializeOwned>(&mut self) -> io::Result<T> {
        if !self.header("content-type").is_some_and(is_json) {
            return Err(self.fail(
                415,
                "expected a JSON body (Content-Type: application/json)",
                io::ErrorKind::InvalidData,
            ));
        }
        let mut body = Vec::with_capacity(self.content_length().unwrap_or(0).min(1 << 20) as usize);
        self.body().read_to_end(&mut body)?;
        serde_json::from_slice(&body).map_err(|e| {
            self.fail(
                400,
                format!("invalid JSON body: {e}"),
                io::ErrorKind::InvalidData,
            )
        })
    }
}

impl Response<'_> {
    /// Encodes `value` as the JSON body and sets `Content-Type: application/json` (and
    /// the length). Fails only if `value` cannot be encoded (a map with non-string keys,
    /// a `Serialize` impl that errors).
    pub fn json<T: Serialize + ?Sized>(&mut self, value: &T) -> io::Result<&mut Self> {
        let body = serde_json::to_vec(value).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("gmp-http: JSON encoding: {e}"),
            )
        })?;
        self.header("content-type", "application/json");
        Ok(self.body(body))
    }
}

/// `application/json`, or any `type/subtype+json`, with or without parameters.
fn is_json(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.len() > 5
            && essence.is_char_boundary(essence.len() - 5)
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json")
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/problem+json",
            "application/vnd.api+json ; x=y",
        ] {
            assert!(super::is_json(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/jsonx",
            "json",
            "",
            "+json",
            "application/x-www-form-urlencoded",
        ] {
            assert!(!super::is_json(bad), "{bad}");
        }
    }
}
