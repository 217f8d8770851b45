#!/bin/sh
# Generates the test PKI in test/fixtures/certs/ and the embedded demo certificate in
# src/cli/default-certificate.ts. Node cannot create certificates, so these PEM files are
# generated once with openssl and committed. Rerunnable: every run replaces all files with new
# keys (tests only depend on names, hosts and validity periods, never on key bytes).
#
#   sh scripts/gen-test-certs.sh
#
# Files (PEM; each certificate NAME.pem has its private key NAME.key):
#   ca                root CA (ECDSA P-256, CA:TRUE)
#   intermediate      intermediate CA signed by ca (ECDSA P-256, CA:TRUE, pathlen 0)
#   leaf-p256         server leaf for localhost, 127.0.0.1, ::1 (ECDSA P-256), signed by intermediate
#   leaf-p384         same names, ECDSA P-384
#   leaf-rsa          same names, RSA 2048 (rsaEncryption key: rsa_pss_rsae_* signatures)
#   leaf-rsa-pss      same names, RSASSA-PSS key (rsa_pss_pss_* signatures)
#   leaf-ed25519      same names, Ed25519
#   leaf-expired      same names, ECDSA P-256, valid only 2020-01-01 .. 2021-01-01
#   leaf-other-host   ECDSA P-256 leaf for other.example only
#   unrelated-ca      an unrelated root CA
#   leaf-unrelated    localhost leaf signed by unrelated-ca
#   client            client certificate (clientAuth), signed by intermediate
# Validity of everything except leaf-expired: 2025-01-01 .. 2125-01-01.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/test/fixtures/certs"
TS="$ROOT/src/cli/default-certificate.ts"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

START=20250101000000Z
END=21250101000000Z

cat > "$WORK/openssl.cnf" <<'EOF'
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ policy_any ]
commonName = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = placeholder
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ v3_intermediate ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_other ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_selfsigned ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
EOF

cd "$WORK"
mkdir newcerts
touch index.txt
echo 1000 > serial

key() { # key NAME ALGORITHM
  case "$2" in
    p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null ;;
    p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1.key" 2>/dev/null ;;
    rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null ;;
    rsa-pss) openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$1.key" 2>/dev/null ;;
    ed25519) openssl genpkey -algorithm ED25519 -out "$1.key" 2>/dev/null ;;
  esac
}

# sign NAME CN ISSUER EXTENSIONS [START END]: CSR for NAME.key, signed by ISSUER (or self).
sign() {
  openssl req -new -config openssl.cnf -key "$1.key" -subj "/O=feather-quic tests/CN=$2" -out "$1.csr"
  if [ "$3" = self ]; then
    openssl ca -batch -config openssl.cnf -selfsign -keyfile "$1.key" -in "$1.csr" -out "$1.pem" \
      -extensions "$4" -startdate "${5:-$START}" -enddate "${6:-$END}" -notext 2>/dev/null
  else
    openssl ca -batch -config openssl.cnf -cert "$3.pem" -keyfile "$3.key" -in "$1.csr" -out "$1.pem" \
      -extensions "$4" -startdate "${5:-$START}" -enddate "${6:-$END}" -notext 2>/dev/null
  fi
}

key ca p256 && sign ca "feather-quic test root CA" self v3_ca
key intermediate p256 && sign intermediate "feather-quic test intermediate CA" ca v3_intermediate
key leaf-p256 p256 && sign leaf-p256 localhost intermediate v3_leaf
key leaf-p384 p384 && sign leaf-p384 localhost intermediate v3_leaf
key leaf-rsa rsa && sign leaf-rsa localhost intermediate v3_leaf
key leaf-rsa-pss rsa-pss && sign leaf-rsa-pss localhost intermediate v3_leaf
key leaf-ed25519 ed25519 && sign leaf-ed25519 localhost intermediate v3_leaf
key leaf-expired p256 && sign leaf-expired localhost intermediate v3_leaf 20200101000000Z 20210101000000Z
key leaf-other-host p256 && sign leaf-other-host other.example intermediate v3_other
key unrelated-ca p256 && sign unrelated-ca "unrelated test CA" self v3_ca
key leaf-unrelated p256 && sign leaf-unrelated localhost unrelated-ca v3_leaf
key client p256 && sign client "feather-quic test client" intermediate v3_client
key default p256 && sign default localhost self v3_selfsigned

for n in ca intermediate leaf-p256 leaf-p384 leaf-rsa leaf-rsa-pss leaf-ed25519 leaf-expired \
  leaf-other-host unrelated-ca leaf-unrelated client; do
  cp "$n.pem" "$OUT/$n.pem"
  openssl pkey -in "$n.key" -out "$OUT/$n.key"
done

{
  echo '// Self-signed ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1 (valid 2025..2125),'
  echo '// used by the demo and the CLI server when no certificate is configured. Generated by'
  echo '// scripts/gen-test-certs.sh. Test use only: the private key is public.'
  echo ''
  echo 'export const DEFAULT_CERTIFICATE_PEM = `'"$(cat default.pem)"'`;'
  echo ''
  echo 'export const DEFAULT_PRIVATE_KEY_PEM = `'"$(openssl pkey -in default.key)"'`;'
} > "$TS"

echo "wrote $OUT and $TS"
