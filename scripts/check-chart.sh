#!/usr/bin/env bash
# Validates the Helm chart with the real tools, as CI does: `helm lint --strict`, `helm template` with the
# default values and with the other branches of the templates, every rendered manifest decoded strictly
# into the Kubernetes API types (deploy/validate), and the rendered gateway.yaml checked by
# `veza gateway serve --check` with the environment and secret file a pod would have.
# Builds helm and the validator from the Go module proxy into .cache/go-bin when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/.cache/go-bin"
mkdir -p "$bin"
export GOFLAGS=-mod=mod
[ -x "$bin/helm" ] || GOBIN="$bin" go install helm.sh/helm/v4/cmd/helm@v4.3.2
[ -x "$bin/k8s-validate" ] || (cd deploy/validate && go build -o "$bin/k8s-validate" .)
(cd deploy/validate && go vet ./...)

chart=deploy/helm/veza-gateway
"$bin/helm" lint --strict "$chart"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
secure="--set etcd.url=etcds://etcd.veza.svc:2379 --set etcd.tlsSecret=etcd-tls --set etcd.authSecret=etcd-auth"
secure="$secure --set publishers.configMap=veza-publishers --set publishers.keys={release.pem,ci.pem}"
for values in "" "--set autoscaling.enabled=false --set sandbox.bwrap=false" "$secure"; do
  echo "== helm template $chart $values"
  # shellcheck disable=SC2086
  "$bin/helm" template gw "$chart" $values > "$work/rendered.yaml"
  "$bin/k8s-validate" < "$work/rendered.yaml"
  node -e '
    const { parseAllDocuments } = require("yaml");
    const docs = parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8")).map((d) => d.toJS());
    process.stdout.write(docs.find((d) => d && d.kind === "ConfigMap").data["gateway.yaml"]);
  ' "$work/rendered.yaml" > "$work/gateway.yaml"
  # The files a pod would have where the chart mounts its Secrets and ConfigMaps (/etc/veza/...).
  etc="$work/etc"
  mkdir -p "$etc/fleet" "$etc/etcd-tls" "$etc/etcd-auth" "$etc/publishers"
  printf 'a-fleet-secret-of-32-characters!\n' > "$etc/fleet/secret"
  for f in ca.crt tls.crt tls.key; do printf -- '-----BEGIN %s-----\n-----END %s-----\n' "$f" "$f" > "$etc/etcd-tls/$f"; done
  printf 'veza\n' > "$etc/etcd-auth/username" && printf 'a-password\n' > "$etc/etcd-auth/password"
  for f in release.pem ci.pem; do node -e '
    const { generateKeyPairSync } = require("node:crypto");
    process.stdout.write(generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }));
  ' > "$etc/publishers/$f"; done
  sed -i "s#/etc/veza/#$etc/#" "$work/gateway.yaml"
  POD_NAME=gw-0 POD_URL=http://10.0.0.7:8080 node dist/cli.js gateway serve --config "$work/gateway.yaml" --check
done
# Values that cannot work together fail the render, with the reason.
for bad in "--set etcd.tlsSecret=etcd-tls" "--set etcd.url=etcds://etcd:2379" \
  "--set publishers.configMap=veza-publishers --set publishers.keys=null"; do
  # shellcheck disable=SC2086
  if "$bin/helm" template gw "$chart" $bad > /dev/null 2> "$work/error"; then
    echo "helm template $bad rendered: it must fail" >&2
    exit 1
  fi
  grep -q 'execution error' "$work/error" || { cat "$work/error" >&2; exit 1; }
  echo "refused: $bad"
done
