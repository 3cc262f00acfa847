"""AudioCodes Mediant SBC: the ini / CLI parameters, as tables -> DeviceState.

``SbcState.data`` keeps the routing tables' rows with their ini column names (routing.py
evaluates them), the IP Groups with their Proxy Set addresses and dial plan, and the
emergency settings.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from device_profiles.audiocodes import parse, routing
from fleet.errors import ProtocolError
from fleet.model import Collected, DeviceState, Finding, SbcLocation, SbcRoute, SbcState

DEST_IP_GROUP = "0"
SIP_APP_SBC = "2"
Tables = dict[str, list[dict[str, Any]]]


def _proxy_addresses(tabs: Tables) -> dict[str, list[str]]:
    """Proxy Set name -> its proxy addresses (ProxyIp rows refer to the set by index)."""
    by_index = {str(r["_index"]): str(r.get("ProxyName", "")) for r in tabs.get("ProxySet", [])}
    out: dict[str, list[str]] = {n: [] for n in by_index.values()}
    for r in tabs.get("ProxyIp", []):
        ps = by_index.get(str(r.get("ProxySetId", "")).strip())
        if ps is not None and r.get("IpAddress"):
            out[ps].append(str(r["IpAddress"]))
    return out


def _addresses(tabs: Tables) -> list[str]:
    """The SBC's own SIP addresses: each SBC SIP Interface's network interface IP and port."""
    ips = {
        str(r.get("InterfaceName", "")): str(r.get("IPAddress", ""))
        for r in tabs.get("InterfaceTable", [])
    }
    out: list[str] = []
    for r in tabs.get("SIPInterface", []):
        if str(r.get("ApplicationType", "0")) != SIP_APP_SBC:  # default GW
            continue
        ip = ips.get(str(r.get("NetworkInterface", "")))
        if not ip:
            continue
        for col, default in (("UDPPort", "5060"), ("TCPPort", "5060"), ("TLSPort", "5061")):
            port = str(r.get(col, default))
            if port not in ("", "0"):
                addr = f"{ip}:{port}"
                if addr not in out:
                    out.append(addr)
                break
    return out


# Emergency settings only reported (no routing or location decision depends on them), kept
# only where the configuration sets them: a state without them is as it was before.
_REPORTED = {
    "SBCEmergencyRTPDiffServ": "rtp_diffserv",
    "SBCEmergencySignalingDiffServ": "signaling_diffserv",
    "EmergencyRegretTimeout": "regret_timeout",
}


def _emergency(params: dict[str, str], conditions_by_index: dict[str, str]) -> dict[str, Any]:
    cond_idx = parse.scalar(params, "SBCEmergencyCondition")
    out: dict[str, Any] = {
        "preemption": parse.scalar(params, "SBCPreemptionMode") == "1",
        "condition": conditions_by_index.get(str(cond_idx)) if cond_idx not in (None, "") else None,
        "condition_index": cond_idx,
        "numbers": [
            n for n in re.split(r"[,\s]+", parse.scalar(params, "EmergencyNumbers") or "") if n
        ],
        # ini only: the CLI name of 'Emergency Special Release Cause' is documented without
        # its path (README "Caller location"), so a CLI capture gives None
        "special_release_cause": parse.scalar(params, "EmergencySpecialReleaseCause"),
    }
    for ini, key in _REPORTED.items():
        if (v := parse.scalar(params, ini)) is not None:
            out[key] = v
    return out


def _route_view(row: dict[str, Any], emergency_prio: bool) -> SbcRoute:
    match = {
        "src_ip_group": str(row.get("SrcIPGroupName", "Any")),
        "dst_user_prefix": str(row.get("DestUsernamePrefix", "*")),
    }
    for col, key in (
        ("MessageConditionName", "message_condition"),
        ("SrcUsernamePrefix", "src_user_prefix"),
        ("DestHost", "dst_host"),
        ("RequestType", "request_type"),
        ("AltRouteOptions", "alt_route"),
    ):
        v = str(row.get(col, "") or "")
        if (
            v
            and v not in routing.ANY
            and not (col in ("RequestType", "AltRouteOptions") and v == "0")
        ):
            match[key] = v
    dtype = str(row.get("DestType", DEST_IP_GROUP))
    if dtype == DEST_IP_GROUP:
        target = str(row.get("DestIPGroupName", "")) or None
    elif dtype == "1":
        target = str(row.get("DestAddress", "")) or None
    else:
        target = routing.DEST_TYPES.get(dtype, dtype)
    if row.get("ModifiedDestUserName"):
        match["modified_dest_user"] = str(row["ModifiedDestUserName"])
    return SbcRoute(
        name=routing.route_label(row),
        match=match,
        target=target,
        priority="emergency" if emergency_prio else None,
    )


def _sbc_enabled(params: dict[str, str], tabs: Tables) -> bool:
    """The SBC application is in use: IP-to-IP routing rows, an SBC SIP Interface, or
    ``EnableSBCApplication = 1``."""
    return bool(
        tabs.get("IP2IPRouting")
        or any(
            str(r.get("ApplicationType", "")) == SIP_APP_SBC for r in tabs.get("SIPInterface", [])
        )
        or parse.scalar(params, "EnableSBCApplication") == "1"
    )


def _dial_plans(tabs: Tables) -> dict[str, list[list[str]]]:
    """Dial Plan rules (DialPlanRule: DialPlanName, Prefix, Tag) by plan name, in index order."""
    plans: dict[str, list[list[str]]] = {}
    for r in tabs.get("DialPlanRule", []):
        plans.setdefault(str(r.get("DialPlanName", "")), []).append(
            [str(r.get("Prefix", "")), str(r.get("Tag", ""))]
        )
    return plans


def _ip_groups(tabs: Tables) -> dict[str, dict[str, Any]]:
    proxies = _proxy_addresses(tabs)
    srd_plans = {
        str(r.get("Name", "")): str(r.get("SBCDialPlanName", "") or "") for r in tabs.get("SRD", [])
    }
    ip_groups: dict[str, dict[str, Any]] = {}
    for r in tabs.get("IPGroup", []):
        name = str(r.get("Name", ""))
        ps = str(r.get("ProxySetName", ""))
        ip_groups[name] = {
            "type": str(r.get("Type", "0")),
            "proxy_set": ps,
            "addresses": proxies.get(ps, []),
            "classify_by_proxy_set": str(r.get("ClassifyByProxySet", "1")),
            "inbound_manset": str(r.get("InboundManSet", "-1")),
            "outbound_manset": str(r.get("OutboundManSet", "-1")),
        }
        # 'SBC Dial Plan' of the IP Group, else of its SRD: where Destination Tags of routing
        # rules come from (kept only when set, so states without dial plans stay as they were)
        dp = str(r.get("SBCDialPlanName", "") or "") or srd_plans.get(str(r.get("SRDName", "")), "")
        if dp:
            ip_groups[name]["dial_plan"] = dp
    return ip_groups


def _emergency_numbers(emergency: dict[str, Any], conditions: dict[str, str]) -> list[str]:
    numbers = list(emergency["numbers"])
    if emergency["condition"]:
        for n in routing.condition_numbers(conditions.get(emergency["condition"], "")):
            if n not in numbers:
                numbers.append(n)
    return numbers


def _routes(
    rows: list[dict[str, Any]], emergency: dict[str, Any], conditions: dict[str, str]
) -> list[SbcRoute]:
    em_cond = conditions.get(emergency["condition"] or "", "")
    routes = []
    for r in rows:
        prefix = str(r.get("DestUsernamePrefix", "*")).rstrip("#")
        prio = bool(
            emergency["preemption"]
            and em_cond
            and prefix.isdigit()
            and routing.eval_condition(em_cond, prefix)[0]
        )
        routes.append(_route_view(r, prio))
    return routes


def _unsupported(c: Collected) -> ProtocolError:
    # A Gateway-only configuration (e.g. an MP-124 FXS: Tel-to-IP routing in the PREFIX
    # table, no IP-to-IP routing): fleet evaluates SBC routing only, so it cannot say
    # where this box sends an emergency call. Fail closed instead of "no route".
    return ProtocolError(
        f"{c.sources[0] if c.sources else 'configuration'}: no SBC application (no "
        "IP2IPRouting rows, no SBC SIP Interface, EnableSBCApplication not 1): a Gateway "
        "configuration whose Tel-to-IP routing fleet does not evaluate"
    )


def _unset(value: Any) -> bool:
    return str(value if value is not None else "").strip() in ("", "-1")


def _call_setup_rules(tabs: Tables, psap: list[str]) -> list[str]:
    """Where a Call Setup Rules Set applies to calls towards a PSAP IP Group: its own
    ``CallSetupRulesSetId`` or that of an IP-to-IP Routing row to it. Such a rule can query
    LDAP for the caller's ELIN and add it to the INVITE as a PIDF body (techdocs SBC 7.4/7.6
    "Emergency Call Routing using LDAP to Obtain ELIN", steps 1-3), which fleet does not
    evaluate."""
    wanted = {n.lower() for n in psap}
    where = [
        f"IPGroup {r.get('Name', '')} CallSetupRulesSetId = {r.get('CallSetupRulesSetId')}"
        for r in tabs.get("IPGroup", [])
        if str(r.get("Name", "")).lower() in wanted and not _unset(r.get("CallSetupRulesSetId"))
    ]
    for r in tabs.get("IP2IPRouting", []):
        dest = str(r.get("DestIPGroupName", "")).lower()
        if dest in wanted and not _unset(r.get("CallSetupRulesSetId")):
            where.append(
                f"{routing.route_label(r)} CallSetupRulesSetId = {r.get('CallSetupRulesSetId')}"
            )
    return where


def _location(params: dict[str, str], tabs: Tables) -> SbcLocation | None:
    """E9-1-1 ELIN handling (README "Caller location"): an IP Group with 'SBC PSAP Mode'
    enabled (``IPGroup_SBCPSAPMode`` = 1) or ``E911Gateway`` = 1 makes the device an ELIN
    gateway: it takes the ELINs from the PIDF-LO the call carries (the location server's
    NAM field) and sends one as the calling number. It adds none of its own unless a Call
    Setup Rule towards the PSAP looks one up (``_call_setup_rules``: then unproven);
    ``E911Gateway`` = 2 (location-based manipulations) only routes by the caller's location.
    No source gives the CLI names of these settings: a CLI configuration gives None."""
    if any(k.startswith(("voip/", "network/", "system/")) for k in params):
        return None
    psap = [
        str(r.get("Name", ""))
        for r in tabs.get("IPGroup", [])
        if str(r.get("SBCPSAPMode", "0")) == "1"
    ]
    gateway = parse.scalar(params, "E911Gateway") or "0"
    timeout = parse.scalar(params, "E911CallbackTimeout")
    where = [f"IPGroup {n} SBCPSAPMode = 1" for n in psap]
    if gateway == "1":
        where.append("E911Gateway = 1")
    callback = [f"E911CallbackTimeout = {timeout} (minutes an ELIN callback is routed back)"]
    rules = _call_setup_rules(tabs, psap)
    if rules:
        where.append(
            "a Call Setup Rule on the way to the PSAP may look up the caller's ELIN in LDAP "
            "and add it (" + "; ".join(rules) + "), which fleet does not evaluate"
        )
    return SbcLocation(
        mode="unproven" if rules else "elin-gateway" if where else "none",
        source="; ".join(where) or f"SBCPSAPMode = 0 on every IP Group, E911Gateway = {gateway}",
        callback=callback if timeout else [],
    )


def to_state(c: Collected) -> DeviceState:
    tabs = parse.tables(c.params)
    if not _sbc_enabled(c.params, tabs):
        raise _unsupported(c)
    conditions = {
        str(r.get("Name", "")): str(r.get("Condition", "")) for r in tabs.get("ConditionTable", [])
    }
    cond_by_index = {
        str(r["_index"]): str(r.get("Name", "")) for r in tabs.get("ConditionTable", [])
    }
    ip_groups = _ip_groups(tabs)
    classification = tabs.get("Classification", [])
    # The phone-facing IP Groups (routing.phone_groups): no literal "Any" fallback, which no
    # routing row with a named source would ever match.
    phone_group = next(
        iter(routing.phone_groups({"ip_groups": ip_groups, "classification": classification})),
        None,
    )
    emergency = _emergency(c.params, cond_by_index)
    routes_rows = tabs.get("IP2IPRouting", [])
    data = {
        "routes": routes_rows,
        "ip_groups": ip_groups,
        "classification": classification,
        "conditions": conditions,
        "manipulations": tabs.get("MessageManipulations", []),
        "outbound_manipulations": tabs.get("IPOutboundManipulation", []),
        "phone_group": phone_group,
        "emergency": emergency,
    }
    if dial_plans := _dial_plans(tabs):
        data["dial_plans"] = dial_plans
    return DeviceState(
        notices=_reference_notices(c, tabs, ip_groups),
        vendor="AudioCodes",
        profile="audiocodes",
        model=c.identity.get("model"),
        firmware=c.identity.get("firmware"),
        raw=dict(c.params),
        sbc=SbcState(
            routes=_routes(routes_rows, emergency, conditions),
            trunks=list(ip_groups),
            addresses=_addresses(tabs),
            emergency_numbers=_emergency_numbers(emergency, conditions),
            data=data,
            location=_location(c.params, tabs),
        ),
    )


_MATCH_COLS = (
    "SrcIPGroupName",
    "DestIPGroupName",
    "SrcUsernamePrefix",
    "SrcHost",
    "DestUsernamePrefix",
    "DestHost",
    "CallingNamePrefix",
    "MessageConditionName",
    "RequestType",
    "ReRouteIPGroupName",
    "Trigger",
)


def _reference_notices(c: Collected, tabs: Tables, ip_groups: dict[str, Any]) -> list[Finding]:
    """What the tables refer to that is not there, and outbound manipulation rules whose
    effect the manual leaves open."""
    src = c.sources[0] if c.sources else "configuration"
    out: list[Finding] = []
    known = {n.lower() for n in ip_groups} | routing.ANY
    for r in tabs.get("IP2IPRouting", []):
        for col in ("SrcIPGroupName", "DestIPGroupName"):
            v = str(r.get(col, "") or "")
            if col == "DestIPGroupName" and str(r.get("DestType", DEST_IP_GROUP)) != DEST_IP_GROUP:
                continue
            if v.lower() not in known:
                out.append(
                    Finding(
                        "config.malformed",
                        "medium",
                        routing.route_label(r),
                        f"{src}: {routing.route_label(r)} {col} {v!r} names no IP Group of "
                        "the IP Groups table; the rule can never match or deliver",
                    )
                )
    rows = tabs.get("IPOutboundManipulation", [])
    for prev, row in itertools.pairwise(rows):
        if (
            str(row.get("ManipulatedURI", "0")) == "1"
            and str(prev.get("ManipulatedURI", "0")) != "1"
            and str(row.get("IsAdditionalManipulation", "0")) != "1"
            and all(str(prev.get(k, "")) == str(row.get(k, "")) for k in _MATCH_COLS)
        ):
            name = row.get("ManipulationName") or row["_index"]
            out.append(
                Finding(
                    "coverage.uncertain",
                    "high",
                    f"IPOutboundManipulation {row['_index']}",
                    f"{src}: destination-number rule {name!r} has the same match as the "
                    f"source rule above it but is not an 'Additional Manipulation'; by the "
                    "User's Manual the first matching rule ends the search, so fleet takes it "
                    "as never applied: whether the box rewrites the called number (emergency "
                    "numbers too) is unconfirmed",
                )
            )
    return out
