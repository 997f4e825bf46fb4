-- Public services, part 6: result documents may be signed with GOST R 34.10-2012 (a
-- detached CMS, with the signer's certificate in public_key) when the operator configures
-- a qualified key; the ES256 documents issued before keep their algorithm.
ALTER TABLE result_documents ADD COLUMN algorithm TEXT NOT NULL DEFAULT 'ES256';
