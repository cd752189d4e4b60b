//! Architecture-specific context switching. Only x86-64 Linux is implemented; other
//! targets fail to compile with a message naming the file to port.

mod x86_64;

pub(crate) use x86_64::{
    gogo, is_fresh, mcall, mstart, prepare_fresh, sp, valgrind_request, Gobuf,
};
