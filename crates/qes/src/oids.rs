//! Object identifiers this crate recognises.

use const_oid::ObjectIdentifier as Oid;

const fn oid(s: &str) -> Oid {
    Oid::new_unwrap(s)
}

// CMS (RFC 5652).
pub(crate) const DATA: Oid = oid("1.2.840.113549.1.7.1");
pub(crate) const SIGNED_DATA: Oid = oid("1.2.840.113549.1.7.2");
pub(crate) const CONTENT_TYPE: Oid = oid("1.2.840.113549.1.9.3");
pub(crate) const MESSAGE_DIGEST: Oid = oid("1.2.840.113549.1.9.4");
pub(crate) const SIGNING_TIME: Oid = oid("1.2.840.113549.1.9.5");

// Digests.
pub(crate) const STREEBOG_256: Oid = oid("1.2.643.7.1.1.2.2");
pub(crate) const STREEBOG_512: Oid = oid("1.2.643.7.1.1.2.3");
pub(crate) const SHA256: Oid = oid("2.16.840.1.101.3.4.2.1");
pub(crate) const SHA384: Oid = oid("2.16.840.1.101.3.4.2.2");
pub(crate) const SHA512: Oid = oid("2.16.840.1.101.3.4.2.3");

// GOST R 34.10-2012 keys and signatures (RFC 9215).
pub(crate) const GOST_2012_256: Oid = oid("1.2.643.7.1.1.1.1");
pub(crate) const GOST_2012_512: Oid = oid("1.2.643.7.1.1.1.2");
pub(crate) const GOST_2012_256_SIGN: Oid = oid("1.2.643.7.1.1.3.2");
pub(crate) const GOST_2012_512_SIGN: Oid = oid("1.2.643.7.1.1.3.3");
// GOST R 34.10-2001, named in refusals only.
pub(crate) const GOST_2001: Oid = oid("1.2.643.2.2.19");
pub(crate) const GOST_2001_SIGN: Oid = oid("1.2.643.2.2.3");

// ECDSA (RFC 5480, RFC 5758).
pub(crate) const EC_PUBLIC_KEY: Oid = oid("1.2.840.10045.2.1");
pub(crate) const P256: Oid = oid("1.2.840.10045.3.1.7");
pub(crate) const P384: Oid = oid("1.3.132.0.34");
pub(crate) const ECDSA_SHA256: Oid = oid("1.2.840.10045.4.3.2");
pub(crate) const ECDSA_SHA384: Oid = oid("1.2.840.10045.4.3.3");

// RSA (RFC 8017).
pub(crate) const RSA: Oid = oid("1.2.840.113549.1.1.1");
pub(crate) const RSA_SHA256: Oid = oid("1.2.840.113549.1.1.11");
pub(crate) const RSA_SHA384: Oid = oid("1.2.840.113549.1.1.12");
pub(crate) const RSA_SHA512: Oid = oid("1.2.840.113549.1.1.13");
pub(crate) const RSA_SHA1: Oid = oid("1.2.840.113549.1.1.5");
pub(crate) const RSA_PSS: Oid = oid("1.2.840.113549.1.1.10");

// Name attributes (RFC 4519, and the Russian ones from Приказ ФСБ № 795).
pub(crate) const COMMON_NAME: Oid = oid("2.5.4.3");
pub(crate) const SURNAME: Oid = oid("2.5.4.4");
pub(crate) const ORGANIZATION: Oid = oid("2.5.4.10");
pub(crate) const GIVEN_NAME: Oid = oid("2.5.4.42");
pub(crate) const EMAIL: Oid = oid("1.2.840.113549.1.9.1");
pub(crate) const SNILS: Oid = oid("1.2.643.100.3");
pub(crate) const INN: Oid = oid("1.2.643.3.131.1.1");
pub(crate) const INN_LE: Oid = oid("1.2.643.100.4");
pub(crate) const OGRN: Oid = oid("1.2.643.100.1");
pub(crate) const OGRNIP: Oid = oid("1.2.643.100.5");
