//! Host bindings generated from `wit/letsdata.wit`, one module per world. The document
//! types are generated once (in `single_file_reader`) and shared by the other worlds.
//!
//! Exports are called asynchronously (`call_async`: guest code runs on a fiber that yields to
//! the runtime at every epoch tick), and `next-record-bytes` is an async host function (reading
//! more of a file awaits the object store).

pub(crate) mod single_file_reader {
    wasmtime::component::bindgen!({
        world: "single-file-reader",
        path: "wit",
        exports: { default: async },
    });
}

pub(crate) mod single_file_state_machine {
    wasmtime::component::bindgen!({
        world: "single-file-state-machine",
        path: "wit",
        imports: {
            "letsdata:data/system-file-reader.[method]system-file-reader.next-record-bytes": async | trappable,
            default: trappable,
        },
        exports: { default: async },
        with: {
            "letsdata:data/types": crate::bindings::single_file_reader::letsdata::data::types,
            "letsdata:data/system-file-reader.system-file-reader": crate::cursor::CursorHandle,
        },
    });
}

pub(crate) mod multiple_file_state_machine {
    wasmtime::component::bindgen!({
        world: "multiple-file-state-machine",
        path: "wit",
        imports: {
            default: trappable,
        },
        exports: { default: async },
        with: {
            "letsdata:data/types": crate::bindings::single_file_reader::letsdata::data::types,
            "letsdata:data/system-file-reader": crate::bindings::single_file_state_machine::letsdata::data::system_file_reader,
        },
    });
}
