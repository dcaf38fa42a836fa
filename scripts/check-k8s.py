"""Checks that every field Deploy/k8s uses exists in the API version its manifest names.

Kubernetes kinds: kubernetes-validate's strict schemas (the OpenAPI documents of each Kubernetes release,
unknown fields refused) for the oldest and the newest release we support. KEDA kinds: the schema in
scripts/schemas/keda-v2.json. Any other apiVersion is refused: nothing would check it.
Run by scripts/check-k8s.sh (which installs kubernetes-validate); exits 1 naming each problem.
"""
import glob
import json
import sys

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSIONS = ["1.29.0", "1.37.0"]
KEDA_SCHEMA = "scripts/schemas/keda-v2.json"


def main():
    with open(KEDA_SCHEMA) as f:
        keda = json.load(f)
    problems, checked = [], 0
    for path in sorted(glob.glob("Deploy/k8s/*.yaml")):
        with open(path) as f:
            documents = [d for d in yaml.safe_load_all(f) if d is not None]
        for document in documents:
            name = f"{path} {document.get('kind')}/{document.get('metadata', {}).get('name')}"
            checked += 1
            if document.get("apiVersion") == "keda.sh/v1alpha1":
                schema = dict(keda, **{"$ref": f"#/$defs/{document.get('kind')}"})
                if document.get("kind") not in keda["$defs"]:
                    problems.append(f"{name}: no schema for KEDA kind {document.get('kind')}")
                    continue
                for error in jsonschema.Draft202012Validator(schema).iter_errors(document):
                    problems.append(f"{name}: {'.'.join(map(str, error.absolute_path))}: {error.message}")
                continue
            for version in KUBERNETES_VERSIONS:
                try:
                    kubernetes_validate.validate(document, version, strict=True)
                except kubernetes_validate.ValidationError as error:
                    problems.append(f"{name} (Kubernetes {version}): {'.'.join(map(str, error.path))}: {error.message}")
                except kubernetes_validate.SchemaNotFoundError:
                    problems.append(f"{name}: Kubernetes {version} has no {document.get('apiVersion')} {document.get('kind')}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"check-k8s: {checked} documents, {len(problems)} problems (Kubernetes {', '.join(KUBERNETES_VERSIONS)}; KEDA 2)")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
