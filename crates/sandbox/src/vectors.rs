//! One task's instance of a component's `SagemakerVectorsInterface` (the vectors engine's
//! user code), beside the instance of its reader interface.

use crate::instance::{Limits, Session, guest_call, instantiate_error};
use crate::wit::Document;
use crate::{Code, Sandbox, SandboxError};

mod bindings {
    wasmtime::component::bindgen!({
        world: "sagemaker-vectors",
        path: "wit",
        exports: { default: async },
        with: {
            "letsdata:data/types": crate::bindings::single_file_reader::letsdata::data::types,
        },
    });
}

use bindings::SagemakerVectors;
pub use bindings::exports::letsdata::data::sagemaker_vectors_interface::{
    NamedVector, Truncation, VectorsDocument,
};

/// One task's instance of a component's `SagemakerVectorsInterface`.
pub struct VectorsCode {
    session: Session,
    bindings: SagemakerVectors,
}

impl std::fmt::Debug for VectorsCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorsCode")
            .field("code", &self.session.code)
            .finish()
    }
}

impl VectorsCode {
    /// Instantiates `code` (which must export `sagemaker-vectors-interface`).
    pub async fn new(sandbox: &Sandbox, code: &Code, limits: Limits) -> Result<Self, SandboxError> {
        let mut session = Session::new(sandbox, code, limits, Vec::new());
        let bindings = Self::instantiate(&mut session).await?;
        Ok(Self { session, bindings })
    }

    async fn instantiate(session: &mut Session) -> Result<SagemakerVectors, SandboxError> {
        let linker = session.linker()?;
        session.arm();
        SagemakerVectors::instantiate_async(&mut session.store, &session.code.component, &linker)
            .await
            .map_err(instantiate_error)
    }

    async fn reinstantiate(&mut self) -> Result<(), SandboxError> {
        self.session.renew();
        self.bindings = Self::instantiate(&mut self.session).await?;
        Ok(())
    }

    /// `extractDocumentElementsForVectorization(document)`: (friendly name, text) pairs, or
    /// why the document cannot be vectorized.
    pub async fn extract(
        &mut self,
        document: &VectorsDocument,
    ) -> Result<Result<Vec<(String, String)>, String>, SandboxError> {
        guest_call!(self, |b, store| b
            .letsdata_data_sagemaker_vectors_interface()
            .call_extract_document_elements_for_vectorization(store, document))
    }

    /// `constructVectorDoc(document, vectorsMap)`: the document to write (or an error or
    /// skip document).
    pub async fn construct(
        &mut self,
        document: &VectorsDocument,
        vectors: &[NamedVector],
    ) -> Result<Document, SandboxError> {
        guest_call!(self, |b, store| b
            .letsdata_data_sagemaker_vectors_interface()
            .call_construct_vector_doc(store, document, vectors))
    }

    /// What the guest printed since the last drain, and how many bytes were dropped.
    pub fn drain_log(&mut self) -> (Vec<u8>, u64) {
        self.session.drain_log()
    }
}
