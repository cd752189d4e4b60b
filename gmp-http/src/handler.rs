//! `Handler`: what the server calls for each request.

use crate::request::Request;
use crate::response::Response;
use std::io;

/// What `serve` calls for each request.
pub trait Handler:
    Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static
{
}
impl<F> Handler for F where
    F: Fn(&mut Request<'_>, &mut Response<'_>) -> io::Result<()> + Send + Sync + 'static
{
}
