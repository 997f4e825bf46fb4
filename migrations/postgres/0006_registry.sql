-- The embedded state registries: a local stand-in for the checks a deployment makes
-- through СМЭВ (МВД passports, СФР SNILS, ФНС INN, ЕГРЮЛ/ЕГРИП). Persons are personal
-- data: the record is encrypted by the vault and found through truncated blind indexes.
-- Organizations and the list of invalid passports are public registers, stored plain.
CREATE TABLE registry_persons (
    snils_index    TEXT PRIMARY KEY,
    passport_index TEXT NOT NULL,
    inn_index      TEXT,
    data           TEXT NOT NULL
);

CREATE INDEX registry_persons_passport ON registry_persons (passport_index);
CREATE INDEX registry_persons_inn ON registry_persons (inn_index);

CREATE TABLE registry_invalid_passports (
    passport TEXT PRIMARY KEY,
    reason   TEXT NOT NULL,
    since    TEXT
);

CREATE TABLE registry_organizations (
    inn  TEXT PRIMARY KEY,
    ogrn TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('legal', 'entrepreneur')),
    data TEXT NOT NULL
);

CREATE INDEX registry_organizations_ogrn ON registry_organizations (ogrn);
