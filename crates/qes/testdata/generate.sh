#!/usr/bin/env bash
# Generates test material for the qes crate with OpenSSL and its GOST engine.
#
#   crates/qes/testdata/generate.sh OUT_DIR
#
# Needs `openssl` (3.x) and Debian's `libengine-gost-openssl` (apt-get install
# libengine-gost-openssl). The engine is loaded through a generated OPENSSL_CONF, so the
# system configuration is left alone. Private keys stay in a temporary directory and are
# deleted on exit: OUT_DIR holds certificates, signatures and the signed challenge only,
# except citizen/ (below), whose keys are kept on purpose.
#
# Layout of OUT_DIR (tests in crates/qes/tests/verify.rs rely on it):
#   challenge.txt                     the signed content
#   <set>/ca.pem user.pem             a root CA and a user certificate, for each set:
#                                     gost256 (tc26 paramSetA), gost256cp (CryptoPro-A),
#                                     gost512 (tc26 512 paramSetA), p256, p384, rsa
#   <set>/sig.p7s                     detached CMS, DER, signer certificate embedded
#   <set>/sig-nocert.p7s              the same without the certificate (-nocerts)
#   <set>/sig-noattr.p7s              without signed attributes (-noattr)
#   gost256/sig.pem                   PEM form; rsa/sig-sha512.p7s  RSA with SHA-512
#   p256/sig-two.p7s                  two signers (p256 and rsa users)
#   untrusted/ca.pem user.pem sig.p7s sig-with-root.p7s   a CA nobody trusts
#   expired/user.pem sig.p7s          valid 2024-01-01 .. 2025-01-01, issued by gost256/ca
#   nokeyusage/user.pem sig.p7s       keyUsage keyEncipherment only, issued by gost256/ca
#   intermediate/ca.pem user.pem sig.p7s sig-with-chain.p7s   root gost256/ca → intermediate
#                                     (valid until 2029-01-01 only) → user
#   forged/ca.pem user.pem sig.p7s    a CA with gost256/ca's name but another key
#   notca/user.pem sig.p7s            issued by gost256/user.pem, an end-entity certificate
#   raw/gost<bits>-<paramset>.spki.der / .sig   raw signatures over challenge.txt for every
#                                     GOST parameter set the engine knows
#
#   citizen/                          material for the portal's signature route (the
#                                     uslugi integration tests), WITH PRIVATE KEYS, so tests
#                                     can sign a challenge the server makes at test time.
#                                     Written under target/ only; never commit it (it
#                                     carries a .gitignore of its own). The person is the
#                                     demo citizen: SNILS 12345678964, SN=Демидова,
#                                     GN=Мария Ивановна.
#     <set>/ca.pem user.pem key.pem sign.sh   a root CA and the citizen, for each set:
#                                     gost256 (tc26 paramSetA, with INN 770123456703),
#                                     p256 (no INN); othersnils: SNILS 11223344595, issued
#                                     by citizen/gost256's CA; untrusted: its own CA, which
#                                     no test trusts
#     sign.sh CHALLENGE OUT [SET]     detached CMS (DER, certificate embedded) over the file
#                                     CHALLENGE with SET's key (default gost256), through
#                                     the engine config below; <set>/sign.sh CHALLENGE OUT
#                                     is the same for one set
#     openssl.cnf                     loads the GOST engine (export it as OPENSSL_CONF to
#                                     use the keys with openssl by hand)
#
# Validity: CAs 2024-01-01 .. 2040-01-01, users 2025-01-01 .. 2035-01-01 (UTC), so tests
# pass an explicit `now` inside that window.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

engines_dir=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
if [ ! -f "$engines_dir/gost.so" ]; then
    echo "generate.sh: GOST engine not found in $engines_dir (apt-get install libengine-gost-openssl)" >&2
    exit 1
fi

cat >"$work/openssl.cnf" <<EOF
openssl_conf = openssl_init
oid_section = qes_oids

[qes_oids]
# OpenSSL 3.0 has no name for the INN of a legal entity.
INNLE = 1.2.643.100.4

[openssl_init]
engines = engine_section

[engine_section]
gost = gost_section

[gost_section]
engine_id = gost
dynamic_path = $engines_dir/gost.so
default_algorithms = ALL

[req]
distinguished_name = req_dn
string_mask = utf8only
utf8 = yes

[req_dn]

[ca]
default_ca = qes_ca

[qes_ca]
dir = \${ENV::QES_CA_DIR}
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
policy = policy_any
unique_subject = no
email_in_dn = yes
copy_extensions = none

[policy_any]

[ext_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ext_intermediate]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ext_user]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = clientAuth, emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ext_user_no_signature]
basicConstraints = CA:FALSE
keyUsage = critical, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
export OPENSSL_CONF="$work/openssl.cnf"
# The [qes_ca] section reads the CA directory from the environment; OpenSSL refuses the
# whole file (and so loads no engine) while the variable is unset.
export QES_CA_DIR="$work"

ca_from=20240101000000Z
ca_to=20400101000000Z
user_from=20250101000000Z
user_to=20350101000000Z

printf 'Uslugi sign-in challenge 7f3a9c21-4b8e-4d2a-9e61-0c5d8b7a1f42\n' >"$out/challenge.txt"

# keygen KIND OUT_KEY
keygen() {
    case $1 in
        gost256) openssl genpkey -algorithm gost2012_256 -pkeyopt paramset:TCA -out "$2" ;;
        gost256cp) openssl genpkey -algorithm gost2012_256 -pkeyopt paramset:A -out "$2" ;;
        gost512) openssl genpkey -algorithm gost2012_512 -pkeyopt paramset:A -out "$2" ;;
        p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$2" ;;
        p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve -out "$2" ;;
        rsa) openssl genpkey -algorithm RSA -quiet -pkeyopt rsa_keygen_bits:2048 -out "$2" ;;
        *) echo "unknown key kind $1" >&2; exit 1 ;;
    esac
}

# digest KIND: the message digest that goes with the key kind.
digest() {
    case $1 in
        gost256 | gost256cp) echo md_gost12_256 ;;
        gost512) echo md_gost12_512 ;;
        p384) echo sha384 ;;
        *) echo sha256 ;;
    esac
}

# new_ca NAME KIND SUBJECT: a self-signed root in $work/NAME.
new_ca() {
    local name=$1 kind=$2 subject=$3 dir="$work/$1"
    mkdir -p "$dir/new"
    : >"$dir/index.txt"
    openssl rand -hex 16 >"$dir/serial"
    keygen "$kind" "$dir/key.pem"
    openssl req -new -key "$dir/key.pem" -subj "$subject" -utf8 -out "$dir/req.pem"
    QES_CA_DIR=$dir openssl ca -batch -selfsign -keyfile "$dir/key.pem" -in "$dir/req.pem" \
        -out "$dir/cert.pem" -startdate "$ca_from" -enddate "$ca_to" -extensions ext_root \
        -md "$(digest "$kind")" -preserveDN -notext -utf8 2>/dev/null
    echo "$kind" >"$dir/kind"
}

# issue CA_NAME NAME KIND SUBJECT EXTENSIONS FROM TO: a certificate in $work/NAME signed
# by the CA (or end-entity) in $work/CA_NAME.
issue() {
    local ca=$work/$1 name=$2 kind=$3 subject=$4 ext=$5 from=$6 to=$7 dir="$work/$2"
    mkdir -p "$dir/new"
    : >"$dir/index.txt"
    openssl rand -hex 16 >"$dir/serial"
    keygen "$kind" "$dir/key.pem"
    openssl req -new -key "$dir/key.pem" -subj "$subject" -utf8 -out "$dir/req.pem"
    QES_CA_DIR=$ca openssl ca -batch -cert "$ca/cert.pem" -keyfile "$ca/key.pem" \
        -in "$dir/req.pem" -out "$dir/cert.pem" -startdate "$from" -enddate "$to" \
        -extensions "$ext" -md "$(digest "$(cat "$ca/kind")")" -preserveDN -notext -utf8 2>/dev/null
    echo "$kind" >"$dir/kind"
}

# sign NAME OUT [extra cms options]: a detached DER signature over the challenge.
sign() {
    local dir=$work/$1 target=$2
    shift 2
    openssl cms -sign -binary -in "$out/challenge.txt" -signer "$dir/cert.pem" \
        -inkey "$dir/key.pem" -md "$(digest "$(cat "$dir/kind")")" -outform DER -out "$target" "$@"
}

person="/C=RU/SNILS=11223344595/INN=500100732259/SN=Иванов/GN=Иван Иванович/CN=Иванов Иван Иванович"

for set in gost256 gost256cp gost512 p256 p384 rsa; do
    case $set in
        gost256) subject="$person/emailAddress=ivanov@example.ru" ;;
        # An employee of a legal entity: organization, its INN and OGRN.
        rsa) subject="/C=RU/O=ООО «Ромашка»/INNLE=7707083893/OGRN=1027700132195$(echo "$person" | sed 's|^/C=RU||')" ;;
        # An individual entrepreneur.
        p256) subject="$person/OGRNIP=304500116000157" ;;
        *) subject=$person ;;
    esac
    new_ca "$set-ca" "$set" "/C=RU/O=Тестовый УЦ/CN=Тестовый УЦ $set"
    issue "$set-ca" "$set-user" "$set" "$subject" ext_user "$user_from" "$user_to"
    mkdir -p "$out/$set"
    cp "$work/$set-ca/cert.pem" "$out/$set/ca.pem"
    cp "$work/$set-user/cert.pem" "$out/$set/user.pem"
    sign "$set-user" "$out/$set/sig.p7s"
    sign "$set-user" "$out/$set/sig-nocert.p7s" -nocerts
    sign "$set-user" "$out/$set/sig-noattr.p7s" -noattr
done
openssl cms -sign -binary -in "$out/challenge.txt" -signer "$work/gost256-user/cert.pem" \
    -inkey "$work/gost256-user/key.pem" -md md_gost12_256 -outform PEM -out "$out/gost256/sig.pem"
openssl cms -sign -binary -in "$out/challenge.txt" -signer "$work/rsa-user/cert.pem" \
    -inkey "$work/rsa-user/key.pem" -md sha512 -outform DER -out "$out/rsa/sig-sha512.p7s"
# Two signers in one SignedData.
openssl cms -sign -binary -in "$out/challenge.txt" -md sha256 \
    -signer "$work/p256-user/cert.pem" -inkey "$work/p256-user/key.pem" \
    -signer "$work/rsa-user/cert.pem" -inkey "$work/rsa-user/key.pem" \
    -outform DER -out "$out/p256/sig-two.p7s"

# A CA that no trust store holds.
new_ca untrusted-ca gost256 "/C=RU/O=Посторонний УЦ/CN=Посторонний УЦ"
issue untrusted-ca untrusted-user gost256 "$person" ext_user "$user_from" "$user_to"
mkdir -p "$out/untrusted"
cp "$work/untrusted-ca/cert.pem" "$out/untrusted/ca.pem"
cp "$work/untrusted-user/cert.pem" "$out/untrusted/user.pem"
sign untrusted-user "$out/untrusted/sig.p7s"
sign untrusted-user "$out/untrusted/sig-with-root.p7s" -certfile "$work/untrusted-ca/cert.pem"

# Expired: valid for 2024 only.
issue gost256-ca expired-user gost256 "$person" ext_user 20240101000000Z 20250101000000Z
mkdir -p "$out/expired"
cp "$work/expired-user/cert.pem" "$out/expired/user.pem"
sign expired-user "$out/expired/sig.p7s"

# A key meant for encryption, not for signatures.
issue gost256-ca nokeyusage-user gost256 "$person" ext_user_no_signature "$user_from" "$user_to"
mkdir -p "$out/nokeyusage"
cp "$work/nokeyusage-user/cert.pem" "$out/nokeyusage/user.pem"
sign nokeyusage-user "$out/nokeyusage/sig.p7s"

# Root → intermediate → user. sig.p7s embeds the user certificate only, as most signing
# tools do; sig-with-chain.p7s embeds the intermediate too.
# The intermediate expires on 2029-01-01, before its user: a test checks the CA's validity.
issue gost256-ca intermediate-ca gost256 "/C=RU/O=Тестовый УЦ/CN=Тестовый подчинённый УЦ" \
    ext_intermediate "$ca_from" 20290101000000Z
issue intermediate-ca intermediate-user gost256 "$person" ext_user "$user_from" "$user_to"
mkdir -p "$out/intermediate"
cp "$work/intermediate-ca/cert.pem" "$out/intermediate/ca.pem"
cp "$work/intermediate-user/cert.pem" "$out/intermediate/user.pem"
sign intermediate-user "$out/intermediate/sig.p7s"
sign intermediate-user "$out/intermediate/sig-with-chain.p7s" -certfile "$work/intermediate-ca/cert.pem"

# A forger's CA under the trusted root's name: the chain looks right by names only.
new_ca forged-ca gost256 "/C=RU/O=Тестовый УЦ/CN=Тестовый УЦ gost256"
issue forged-ca forged-user gost256 "$person" ext_user "$user_from" "$user_to"
mkdir -p "$out/forged"
cp "$work/forged-ca/cert.pem" "$out/forged/ca.pem"
cp "$work/forged-user/cert.pem" "$out/forged/user.pem"
sign forged-user "$out/forged/sig.p7s"

# A certificate issued by an end-entity (the gost256 user), which is no CA.
issue gost256-user notca-user gost256 "/C=RU/SN=Петров/GN=Пётр Петрович/CN=Петров Пётр Петрович" \
    ext_user "$user_from" "$user_to"
mkdir -p "$out/notca"
cp "$work/notca-user/cert.pem" "$out/notca/user.pem"
sign notca-user "$out/notca/sig.p7s" -certfile "$work/gost256-user/cert.pem"

# Raw signatures (s‖r) with every GOST parameter set the engine offers.
mkdir -p "$out/raw"
for spec in gost2012_256:TCA gost2012_256:TCB gost2012_256:TCC gost2012_256:TCD \
    gost2012_256:A gost2012_256:B gost2012_256:C gost2012_256:XA gost2012_256:XB \
    gost2012_512:A gost2012_512:B gost2012_512:C; do
    alg=${spec%%:*}
    paramset=${spec##*:}
    bits=${alg#gost2012_}
    name="gost$bits-$paramset"
    openssl genpkey -algorithm "$alg" -pkeyopt "paramset:$paramset" -out "$work/$name.key"
    openssl pkey -in "$work/$name.key" -pubout -outform DER -out "$out/raw/$name.spki.der"
    openssl dgst "-md_gost12_$bits" -sign "$work/$name.key" -out "$out/raw/$name.sig" "$out/challenge.txt"
done

# The demo citizen, with private keys kept (see the header): the portal's tests sign the
# challenge the server hands out.
citizen="/C=RU/SNILS=12345678964/SN=Демидова/GN=Мария Ивановна/CN=Демидова Мария Ивановна"
mkdir -p "$out/citizen"
printf '*\n' >"$out/citizen/.gitignore"
cat >"$out/citizen/openssl.cnf" <<EOF
openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
gost = gost_section

[gost_section]
engine_id = gost
dynamic_path = $engines_dir/gost.so
default_algorithms = ALL
EOF
# keep_citizen NAME CA_NAME SET: the user $work/NAME (key included) and the root
# $work/CA_NAME into citizen/SET.
keep_citizen() {
    local user=$work/$1 ca=$work/$2 dir=$out/citizen/$3
    mkdir -p "$dir"
    cp "$ca/cert.pem" "$dir/ca.pem"
    cp "$user/cert.pem" "$dir/user.pem"
    cp "$user/key.pem" "$dir/key.pem"
    chmod 600 "$dir/key.pem"
    digest "$(cat "$user/kind")" >"$dir/md"
    cat >"$dir/sign.sh" <<EOF
#!/usr/bin/env bash
# sign.sh CHALLENGE OUT: a detached CMS signature (DER) over CHALLENGE with this set's key.
exec "\$(dirname "\$0")/../sign.sh" "\$1" "\$2" $3
EOF
    chmod +x "$dir/sign.sh"
}
new_ca citizen-gost256-ca gost256 "/C=RU/O=Тестовый УЦ граждан/CN=Тестовый УЦ граждан gost256"
issue citizen-gost256-ca citizen-gost256-user gost256 \
    "$(echo "$citizen" | sed 's|/SN=|/INN=770123456703/SN=|')" ext_user "$user_from" "$user_to"
keep_citizen citizen-gost256-user citizen-gost256-ca gost256
new_ca citizen-p256-ca p256 "/C=RU/O=Тестовый УЦ граждан/CN=Тестовый УЦ граждан p256"
issue citizen-p256-ca citizen-p256-user p256 "$citizen" ext_user "$user_from" "$user_to"
keep_citizen citizen-p256-user citizen-p256-ca p256
issue citizen-gost256-ca citizen-othersnils-user gost256 \
    "$(echo "$citizen" | sed 's|SNILS=12345678964|SNILS=11223344595|')" ext_user "$user_from" "$user_to"
keep_citizen citizen-othersnils-user citizen-gost256-ca othersnils
new_ca citizen-untrusted-ca gost256 "/C=RU/O=Посторонний УЦ/CN=Посторонний УЦ граждан"
issue citizen-untrusted-ca citizen-untrusted-user gost256 "$citizen" ext_user "$user_from" "$user_to"
keep_citizen citizen-untrusted-user citizen-untrusted-ca untrusted
cat >"$out/citizen/sign.sh" <<'EOF'
#!/usr/bin/env bash
# sign.sh CHALLENGE OUT [SET]: a detached CMS signature (DER, signer certificate embedded)
# over the file CHALLENGE, made with the key of citizen/SET (default gost256).
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 CHALLENGE OUT [SET]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
set=${3:-gost256}
export OPENSSL_CONF="$here/openssl.cnf"
exec openssl cms -sign -binary -in "$1" -signer "$here/$set/user.pem" \
    -inkey "$here/$set/key.pem" -md "$(cat "$here/$set/md")" -outform DER -out "$2"
EOF
chmod +x "$out/citizen/sign.sh"

echo "generate.sh: test material written to $out"
