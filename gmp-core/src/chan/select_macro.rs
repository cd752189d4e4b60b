//! The `select!` macro: parses its arms into calls of the select runtime
//! (`select.rs`), in crossbeam-channel's layout.

/// Waits on several channel operations at once and runs the arm of the one that
/// completes, like Go's `select`.
///
/// ```
/// # use gmp_core as gmp; // the facade crate `gmp` re-exports gmp-core
/// use std::time::Duration;
/// gmp::run(|| {
///     let (tx, rx) = gmp::chan::bounded::<i32>(1);
///     let (_tx2, rx2) = gmp::chan::bounded::<&str>(1);
///     tx.send(7).unwrap();
///     let got = gmp::select! {
///         recv(rx) -> v => v.unwrap(),
///         recv(rx2) -> _ => unreachable!(),
///         default(Duration::from_secs(1)) => -1,
///     };
///     assert_eq!(got, 7);
/// });
/// ```
///
/// Arms:
/// - `recv(r) -> v => expr`: `v` is `Result<T, RecvError>` (`Err` once every sender is
///   gone and the channel is empty);
/// - `send(s, x) -> res => expr`: `res` is `Result<(), SendError<T>>` (`x` is evaluated
///   once, before waiting; if another arm fires, it is dropped);
/// - `default => expr`: runs if no arm is ready now;
/// - `default(timeout) => expr`: runs if no arm became ready within `timeout`.
///
/// When several arms are ready one is chosen at random. Exactly one arm runs; values of
/// the others are neither taken nor lost. A `select!` with no arms blocks forever.
#[macro_export]
macro_rules! select {
    ($($t:tt)*) => {
        $crate::__select_parse!(@arms [] @default [] @idx [] $($t)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // Done.
    (@arms [$($arms:tt)*] @default [$($def:tt)*] @idx [$($idx:tt)*]) => {
        $crate::__select_emit!(@arms [$($arms)*] @default [$($def)*])
    };
    // Separating commas.
    (@arms [$($arms:tt)*] @default [$($def:tt)*] @idx [$($idx:tt)*] , $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)*] @default [$($def)*] @idx [$($idx)*] $($rest)*)
    };
    // recv
    (@arms [$($arms:tt)*] @default [$($def:tt)*] @idx [$($idx:tt)*]
        recv($r:expr) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)* (recv case (0 $($idx)*) ($r) ($v) $body)]
            @default [$($def)*] @idx [$($idx)* + 1] $($rest)*)
    };
    (@arms [$($arms:tt)*] @default [$($def:tt)*] @idx [$($idx:tt)*]
        recv($r:expr) -> $v:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms [$($arms)* (recv case (0 $($idx)*) ($r) ($v) $body)]
            @default [$($def)*] @idx [$($idx)* + 1] $($($rest)*)?)
    };
    // send
    (@arms [$($arms:tt)*] @default [$($def:tt)*] @idx [$($idx:tt)*]
        send($s:expr, $x:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)* (send case (0 $($idx)*) ($s, $x) ($res) $body)]
            @default [$($def)*] @idx [$($idx)* + 1] $($rest)*)
    };
    (@arms [$($arms:tt)*] @default [$($def:tt)*] @idx [$($idx:tt)*]
        send($s:expr, $x:expr) -> $res:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms [$($arms)* (send case (0 $($idx)*) ($s, $x) ($res) $body)]
            @default [$($def)*] @idx [$($idx)* + 1] $($($rest)*)?)
    };
    // default(timeout)
    (@arms [$($arms:tt)*] @default [] @idx [$($idx:tt)*]
        default($d:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)*]
            @default [($crate::__private::select::Mode::Timeout($d)) $body] @idx [$($idx)*] $($rest)*)
    };
    (@arms [$($arms:tt)*] @default [] @idx [$($idx:tt)*]
        default($d:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms [$($arms)*]
            @default [($crate::__private::select::Mode::Timeout($d)) $body] @idx [$($idx)*] $($($rest)*)?)
    };
    // default
    (@arms [$($arms:tt)*] @default [] @idx [$($idx:tt)*]
        default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)*]
            @default [($crate::__private::select::Mode::Default) $body] @idx [$($idx)*] $($rest)*)
    };
    (@arms [$($arms:tt)*] @default [] @idx [$($idx:tt)*]
        default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@arms [$($arms)*]
            @default [($crate::__private::select::Mode::Default) $body] @idx [$($idx)*] $($($rest)*)?)
    };
    (@arms [$($arms:tt)*] @default [$($def:tt)+] @idx [$($idx:tt)*] default $($rest:tt)*) => {
        ::core::compile_error!("gmp::select!: more than one `default` arm")
    };
    (@arms [$($arms:tt)*] @default [$($def:tt)*] @idx [$($idx:tt)*] $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "gmp::select!: expected `recv(r) -> v => ..`, `send(s, x) -> res => ..`, ",
            "`default => ..` or `default(timeout) => ..`, found: ",
            ::core::stringify!($($rest)+)
        ))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_emit {
    (@arms [$(($kind:ident $case:ident ($($i:tt)*) ($($args:tt)*) ($p:pat) $body:expr))*]
     @default [$(($mode:expr) $dbody:expr)?]) => {{
        $( let mut $case = $crate::__select_case!($kind $($args)*); )*
        #[allow(unused_mut)]
        let mut __mode = $crate::__private::select::Mode::Block;
        $( __mode = $mode; )?
        let __i = $crate::__private::select::select(
            &mut [$( &mut $case as &mut dyn $crate::__private::select::Case ),*],
            __mode,
        );
        $crate::__select_dispatch!(__i [$(($case ($($i)*) ($p) $body))*] [$($dbody)?])
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_case {
    (recv $r:expr) => {
        $crate::__private::select::RecvCase::new(&$r)
    };
    (send $s:expr, $x:expr) => {
        $crate::__private::select::SendCase::new(&$s, $x)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_dispatch {
    ($i:ident [($case:ident ($($n:tt)*) ($p:pat) $body:expr) $($rest:tt)*] [$($dbody:expr)?]) => {
        if $i == ($($n)*) {
            let $p = $case.into_result();
            $body
        } else {
            $crate::__select_dispatch!($i [$($rest)*] [$($dbody)?])
        }
    };
    ($i:ident [] [$dbody:expr]) => {
        $dbody
    };
    ($i:ident [] []) => {
        ::core::unreachable!("gmp::select!: no arm fired")
    };
}
