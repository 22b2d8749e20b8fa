"""Checks Kubernetes objects against the API's schema, as the models of the official Python
client describe it (Debian's python3-kubernetes).

Every generated model class lists its fields with their JSON names (`attribute_map`) and types
(`openapi_types`: 'str', 'int', 'bool', 'object' for int-or-string, 'list[T]', 'dict(str, T)' or
another model), and its constructor refuses a missing required field (and a value outside the
few enums the 1.22 models list; most enums are not checked).
`errors(obj)` walks an object with them: an unknown field, a value of the wrong type or a missing
required field each give one message naming its path. The client's own deserializer is no use
here: it skips unknown fields silently, which is the typo this check exists to catch.

Debian 12 ships client 22.6 (Kubernetes 1.22's API). autoscaling/v2 came in 1.23 with the same
schema as autoscaling/v2beta2, so an autoscaling/v2 object is checked against v2beta2's models.
"""

import re

import kubernetes.client as k8s

MODELS = {
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2beta2HorizontalPodAutoscaler",
}

_CONFIG = k8s.Configuration()
_CONFIG.client_side_validation = True


def errors(obj):
    """Messages for every way `obj` (a dict, as parsed from YAML) departs from its kind's schema."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in MODELS:
        return [f"{key[1]} {key[0]}: no schema known (add it to kubeschema.MODELS)"]
    out = []
    _check(obj, MODELS[key], obj.get("kind", "?"), out)
    return out


def _check(value, type_name, path, out):
    if m := re.fullmatch(r"list\[(.+)\]", type_name):
        if not isinstance(value, list):
            out.append(f"{path}: a list expected, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, m.group(1), f"{path}[{i}]", out)
    elif m := re.fullmatch(r"dict\(str, (.+)\)", type_name):
        if not isinstance(value, dict):
            out.append(f"{path}: a map expected, got {type(value).__name__}")
            return
        for k, v in value.items():
            _check(v, m.group(1), f"{path}.{k}", out)
    elif type_name == "object":  # int-or-string (ports, maxUnavailable) or free-form
        if not isinstance(value, (str, int, dict)) or isinstance(value, bool):
            out.append(f"{path}: an int or string expected, got {value!r}")
    elif type_name in ("str", "int", "bool", "float"):
        ok = {"str": str, "int": int, "bool": bool, "float": (int, float)}[type_name]
        if not isinstance(value, ok) or (type_name in ("int", "float") and isinstance(value, bool)):
            out.append(f"{path}: {type_name} expected, got {value!r}")
    elif type_name in ("datetime", "date"):
        if not isinstance(value, str):
            out.append(f"{path}: a timestamp string expected, got {value!r}")
    else:
        _check_model(value, getattr(k8s, type_name), path, out)


def _check_model(value, cls, path, out):
    if not isinstance(value, dict):
        out.append(f"{path}: an object ({cls.__name__}) expected, got {type(value).__name__}")
        return
    by_json = {j: attr for attr, j in cls.attribute_map.items()}
    present = {}
    for key, v in value.items():
        attr = by_json.get(key)
        if attr is None:
            out.append(f"{path}.{key}: unknown field of {cls.__name__}")
            continue
        if v is None:
            continue
        _check(v, cls.openapi_types[attr], f"{path}.{key}", out)
        present[attr] = v
    try:
        cls(local_vars_configuration=_CONFIG, **present)
    except ValueError as e:  # a required field missing, or a value outside a listed enum
        out.append(f"{path}: {e}")
