//! Conversions to and from the `http` crate's request and response parts (cargo feature
//! `http-types`), for code written against hyper or axum types.

use crate::h1::Version;
use crate::request::Request;
use crate::response::Response;
use std::io;

impl From<Version> for http::Version {
    fn from(v: Version) -> http::Version {
        match v {
            Version::Http10 => http::Version::HTTP_10,
            Version::Http11 => http::Version::HTTP_11,
        }
    }
}

impl Request<'_> {
    /// The head as `http::request::Parts`: method, URI (the target), version and
    /// headers. This copies the head (the `http` types own their data).
    ///
    /// Fails if the `http` crate refuses a part (it is stricter about some URIs than
    /// HTTP/1.1 requires).
    pub fn to_http_parts(&self) -> Result<http::request::Parts, http::Error> {
        let mut b = http::Request::builder()
            .method(self.method())
            .uri(self.target())
            .version(self.version().into());
        for (name, value) in self.headers() {
            b = b.header(name, value);
        }
        Ok(b.body(())?.into_parts().0)
    }
}

impl Response<'_> {
    /// Sets the status and adds the headers of `parts` (its version and extensions are
    /// not used). A header value that is not UTF-8 text is an `InvalidInput` error, as is
    /// a `Transfer-Encoding` header (the server frames the body itself).
    pub fn set_http_parts(&mut self, parts: &http::response::Parts) -> io::Result<()> {
        for (name, value) in &parts.headers {
            if name == http::header::TRANSFER_ENCODING {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "gmp-http: Transfer-Encoding is set by the server",
                ));
            }
            value.to_str().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("gmp-http: the value of header {name} is not UTF-8 text"),
                )
            })?;
        }
        self.status(parts.status.as_u16());
        for (name, value) in &parts.headers {
            // Checked above.
            self.header(name.as_str(), value.to_str().unwrap_or_default());
        }
        Ok(())
    }

    /// The status and the headers set so far, as `http::response::Parts`
    /// (Content-Length included when the handler set it; the server's own `Date`,
    /// `Server`, `Connection` and framing headers are not, as they are added when the
    /// response is written).
    pub fn to_http_parts(&self) -> Result<http::response::Parts, http::Error> {
        let mut b = http::Response::builder().status(self.status_code());
        for (name, value) in self.header_lines() {
            b = b.header(name, value);
        }
        if let Some(n) = self.declared_length() {
            b = b.header(http::header::CONTENT_LENGTH, n);
        }
        Ok(b.body(())?.into_parts().0)
    }
}

impl crate::Client {
    /// Sends an `http::Request` and returns the whole response as an
    /// `http::Response<Bytes>` (the body read to its end). The request's URI must be
    /// absolute (`http://host/path`); its headers go out as given (a value that is not
    /// valid is an `InvalidInput` error before anything is sent), its body with
    /// `Content-Length`.
    ///
    /// ```no_run
    /// let client = gmp_http::Client::new();
    /// let req = http::Request::post("http://127.0.0.1:8080/items")
    ///     .header("content-type", "application/json")
    ///     .body(r#"{"name":"x"}"#)
    ///     .unwrap();
    /// let res = client.send_http(req)?;
    /// println!("{} {:?}", res.status(), res.body());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_http<B: Into<bytes::Bytes>>(
        &self,
        req: http::Request<B>,
    ) -> io::Result<http::Response<bytes::Bytes>> {
        let (parts, body) = req.into_parts();
        let mut b = self.request(parts.method.as_str(), &parts.uri.to_string());
        for (name, value) in &parts.headers {
            let v = value.to_str().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("the value of header {name} is not visible ASCII"),
                )
            })?;
            b = b.header(name.as_str(), v);
        }
        let body: bytes::Bytes = body.into();
        if !body.is_empty() || !matches!(parts.method, http::Method::GET | http::Method::HEAD) {
            b = b.body(body);
        }
        let mut res = b.send()?;
        let mut out = http::Response::builder()
            .status(res.status())
            .version(res.version().into());
        for (name, value) in res.headers() {
            out = out.header(name, value);
        }
        let bytes = res.bytes()?;
        out.body(bytes.into())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("response: {e}")))
    }
}
