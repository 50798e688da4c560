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
for values in "" "--set autoscaling.enabled=false --set sandbox.bwrap=false"; do
  echo "== helm template $chart $values"
  # shellcheck disable=SC2086
  "$bin/helm" template gw "$chart" $values > "$work/rendered.yaml"
  "$bin/k8s-validate" < "$work/rendered.yaml"
  node -e '
    const { parseAllDocuments } = require("yaml");
    const docs = parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8")).map((d) => d.toJS());
    process.stdout.write(docs.find((d) => d && d.kind === "ConfigMap").data["gateway.yaml"]);
  ' "$work/rendered.yaml" > "$work/gateway.yaml"
  mkdir -p "$work/fleet" && printf 'a-fleet-secret-of-32-characters!\n' > "$work/fleet/secret"
  sed -i "s#/etc/veza/fleet/secret#$work/fleet/secret#" "$work/gateway.yaml"
  POD_NAME=gw-0 POD_URL=http://10.0.0.7:8080 node dist/cli.js gateway serve --config "$work/gateway.yaml" --check
done
