#!/usr/bin/env bash
# Measures which TLS stacks accept which local-CA shape, and what a leaked CA key could forge
# under each (the evidence behind src/ca's choice; not a test). Needs openssl and curl; uses
# python3, node, go, chromium + certutil and the pinned Claude Code of tests/peers when present
# (bash scripts/ci/install-peers.sh installs them).
#
# CA shapes (RFC 5280 §4.2.1.10 name constraints):
#   dns-ip   permitted DNS:localhost, IP:127.0.0.1/32, IP:::1/128   (authtap's CA)
#   dns      permitted DNS:localhost only
#   none     no name constraints
# Leaves: dns (DNS:localhost) and dns-ip (DNS:localhost, IP:127.0.0.1, IP:::1), each served by
# `openssl s_server` and fetched as https://localhost:PORT/ by every client, trusting the CA.
# Forgery: a leaf for IP:203.0.113.7 (a stand-in for any public address) signed by the CA,
# checked by curl as https://203.0.113.7/ routed to the local server (--connect-to).
# Takes a few minutes (Claude Code waits for an MCP answer that s_server never gives).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
# Servers start inside $(…) subshells, so their pids go to a file, not a variable.
cleanup() {
  if [ -f "$work/server-pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/server-pids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

have() { command -v "$1" >/dev/null 2>&1; }
claude="$repo_root/tests/peers/node_modules/@anthropic-ai/claude-code-linux-x64/claude"

make_ca() { # name constraints-or-empty
  local name=$1 constraints=$2
  local ext=(-addext "basicConstraints=critical,CA:TRUE,pathlen:0"
    -addext "keyUsage=critical,keyCertSign,cRLSign")
  [ -n "$constraints" ] && ext+=(-addext "nameConstraints=critical,$constraints")
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=shape $name" "${ext[@]}" \
    -keyout "$work/ca-$name.key" -out "$work/ca-$name.pem" 2>/dev/null
}

make_leaf() { # ca leaf-name subjectAltName
  local ca=$1 leaf=$2 san=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=leaf" \
    -keyout "$work/$ca-$leaf.key" -out "$work/$ca-$leaf.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' \
    "$san" >"$work/$ca-$leaf.ext"
  openssl x509 -req -in "$work/$ca-$leaf.csr" -CA "$work/ca-$ca.pem" -CAkey "$work/ca-$ca.key" \
    -CAcreateserial -days 7 -extfile "$work/$ca-$leaf.ext" -out "$work/$ca-$leaf.pem" 2>/dev/null
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

serve() { # ca leaf -> port
  local port
  port=$(free_port)
  openssl s_server -quiet -www -accept "127.0.0.1:$port" -cert "$work/$1-$2.pem" \
    -key "$work/$1-$2.key" -cert_chain "$work/ca-$1.pem" </dev/null >/dev/null 2>&1 &
  echo $! >>"$work/server-pids"
  sleep 0.3
  echo "$port"
}

if have go; then
  (cd "$work" && go build -o tls-probe "$repo_root/tests/peers/tls-probe.go")
fi

probe() { # client ca port -> ok | reason
  local client=$1 ca=$2 port=$3 url="https://localhost:$3/" pem="$work/ca-$2.pem" out
  case $client in
    curl) out=$(curl -sS -o /dev/null --cacert "$pem" "$url" 2>&1) && echo ok || echo "${out%%$'\n'*}" ;;
    python) out=$(SSL_CERT_FILE="$pem" python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)' "$url" 2>&1) \
      && echo ok || echo "${out##*$'\n'}" ;;
    node) out=$(NODE_EXTRA_CA_CERTS="$pem" node -e 'fetch(process.argv[1]).then(() => console.log("ok"), e => console.log(e.cause?.code ?? e.message))' "$url") ; echo "$out" ;;
    go) out=$(SSL_CERT_FILE="$pem" "$work/tls-probe" "$url" 2>&1) && echo ok || echo "$out" ;;
    chromium)
      local home="$work/chromium-$ca"
      if [ ! -d "$home/.pki/nssdb" ]; then
        mkdir -p "$home/.pki/nssdb"
        certutil -d "sql:$home/.pki/nssdb" -N --empty-password
        certutil -d "sql:$home/.pki/nssdb" -A -t C,, -n "shape-$ca" -i "$pem"
      fi
      out=$(HOME="$home" timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$home/profile" --dump-dom "$url" 2>&1 | grep -o 'net::ERR_[A-Z_]*' | head -1 || true)
      echo "${out:-ok}" ;;
    claude)
      local home="$work/claude-$ca-$port"
      mkdir -p "$home"
      HOME="$home" CLAUDE_CONFIG_DIR="$home" ANTHROPIC_API_KEY=dummy ANTHROPIC_BASE_URL=http://127.0.0.1:9 \
        CLAUDE_CODE_MAX_RETRIES=0 "$claude" mcp add --transport http -s user probe "${url}mcp" >/dev/null 2>&1
      out=$(HOME="$home" CLAUDE_CONFIG_DIR="$home" ANTHROPIC_API_KEY=dummy ANTHROPIC_BASE_URL=http://127.0.0.1:9 \
        CLAUDE_CODE_MAX_RETRIES=0 NODE_EXTRA_CA_CERTS="$pem" timeout 60 "$claude" mcp list 2>&1 | grep '^probe:' || true)
      # s_server is no MCP server: any failure that is not a TLS one means TLS passed.
      case $out in
        *CERT*|*CONSTRAINT*|*certificate*|*SSL*) echo "${out##*— }" ;;
        *) echo ok ;;
      esac ;;
  esac
}

clients=(curl)
have python3 && clients+=(python)
have node && clients+=(node)
have go && clients+=(go)
have chromium && have certutil && clients+=(chromium)
[ -x "$claude" ] && clients+=(claude)

make_ca dns-ip "permitted;DNS:localhost,permitted;IP:127.0.0.1/255.255.255.255,permitted;IP:::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
make_ca dns "permitted;DNS:localhost"
make_ca none ""

printf '%-8s %-8s' "CA" "leaf"
for c in "${clients[@]}"; do printf ' | %-22s' "$c"; done
printf ' | %s\n' "leaked key forges IP:203.0.113.7 (curl)"
for ca in dns-ip dns none; do
  make_leaf "$ca" dns "DNS:localhost"
  make_leaf "$ca" dns-ip "DNS:localhost,IP:127.0.0.1,IP:::1"
  make_leaf "$ca" forged "IP:203.0.113.7"
  forged_port=$(serve "$ca" forged)
  if out=$(curl -sS -o /dev/null --cacert "$work/ca-$ca.pem" \
    --connect-to "203.0.113.7:443:127.0.0.1:$forged_port" https://203.0.113.7/ 2>&1); then
    forged="ACCEPTED: a leaked key can impersonate any IP address"
  else
    out="${out%%$'\n'*}"
    forged="rejected (${out#curl: (60) SSL certificate problem: })"
  fi
  for leaf in dns dns-ip; do
    port=$(serve "$ca" "$leaf")
    printf '%-8s %-8s' "$ca" "$leaf"
    for c in "${clients[@]}"; do
      result=$(probe "$c" "$ca" "$port")
      printf ' | %-22.22s' "$result"
    done
    printf ' | %s\n' "${forged%%$'\n'*}"
  done
done
