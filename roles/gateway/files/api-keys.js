// API key and JWT check of the DeepSeek gateway (role onprem.deepseek.gateway), run by nginx's njs module.
//
// nginx preloads two files at configuration time (js_preload_object):
// - deepseek_api_keys: {"<SHA-256 hex of the key>": {"name", "role", "expires" (YYYY-MM-DD or null), "revoked",
//   "owner" (text or null)}}.
//   The clear key exists only in the vault and in the client; here it is hashed (njs's crypto module) and looked up.
// - deepseek_jwt: {"enabled": false} or the identity provider's settings and signing keys: {"enabled": true, "issuer",
//   "audience", "subject_claim", "role_claim", "roles" ({claim value: gateway role}, or null: the value itself),
//   "leeway" (seconds), "keys" ({kid: {"alg", "spki" (base64 DER), "params" (WebCrypto)}})}. The JWKS was converted
//   on the controller (filter onprem.deepseek.jwks_verify_keys); signatures are checked by WebCrypto (crypto.subtle).
// Works with njs 0.7 (Debian 12) and 0.8 (Debian 13): no let/const-only or newer syntax is needed.

var hashing = require('crypto');
var fs = require('fs');

// RFC 7235: the scheme is case-insensitive; the token is an RFC 6750 bearer token, compared exactly.
var BEARER = /^bearer ([A-Za-z0-9._~+\/=-]+)$/i;
// A JWS compact serialisation (RFC 7515 section 7.1): three base64url parts.
var JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
// Gateway roles, most privileged first: a subject with several gets the first.
var ROLES = ['admin', 'user', 'auditor'];

function b64json(segment) {
    try {
        var value = JSON.parse(Buffer.from(segment, 'base64url').toString());
        return (value && typeof value === 'object' && !Array.isArray(value)) ? value : null;
    } catch (e) {
        return null;
    }
}

function has(object, key) {
    return Object.prototype.hasOwnProperty.call(object, key);
}

// The gateway role of a token: its role claim (a string, a space-separated string such as "scope", or a list),
// mapped through "roles" when given.
function jwtRole(value) {
    var values = Array.isArray(value) ? value : (typeof value === 'string' ? value.split(' ') : []);
    var mapped = [];
    for (var i = 0; i < values.length; i++) {
        var name = String(values[i]);
        if (deepseek_jwt.roles) {
            if (has(deepseek_jwt.roles, name)) {
                mapped.push(deepseek_jwt.roles[name]);
            }
        } else {
            mapped.push(name);
        }
    }
    for (var j = 0; j < ROLES.length; j++) {
        if (mapped.indexOf(ROLES[j]) >= 0) {
            return ROLES[j];
        }
    }
    return '';
}

// Everything of a JWT but its signature, which only authorize() checks (WebCrypto answers asynchronously): the
// name and role below feed the rate limits and the log, and a token whose signature fails never gets past the
// access phase.
function jwtLookup(token) {
    var parts = token.split('.');
    var header = b64json(parts[0]);
    var claims = b64json(parts[1]);
    if (!header || !claims) {
        return {status: 'malformed token'};
    }
    var kid = has(header, 'kid') ? header.kid : '';
    if (typeof kid !== 'string' || !has(deepseek_jwt.keys, kid)) {
        return {status: 'unknown token signing key'};
    }
    var key = deepseek_jwt.keys[kid];
    if (header.alg !== key.alg) {
        return {status: 'token algorithm not allowed'};
    }
    var now = Date.now() / 1000;
    if (typeof claims.exp !== 'number') {
        return {status: 'token without exp'};
    }
    if (now >= claims.exp + deepseek_jwt.leeway) {
        return {status: 'token expired'};
    }
    if (has(claims, 'nbf') && (typeof claims.nbf !== 'number' || now < claims.nbf - deepseek_jwt.leeway)) {
        return {status: 'token not yet valid'};
    }
    if (claims.iss !== deepseek_jwt.issuer) {
        return {status: 'wrong token issuer'};
    }
    var audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (audiences.indexOf(deepseek_jwt.audience) < 0) {
        return {status: 'wrong token audience'};
    }
    var subject = claims[deepseek_jwt.subject_claim];
    if (typeof subject !== 'string' || !subject) {
        return {status: 'token without subject'};
    }
    var role = jwtRole(claims[deepseek_jwt.role_claim]);
    if (!role) {
        return {status: 'token without a gateway role'};
    }
    // The name reaches the log and a request header: only characters safe in both, 64 at most.
    var name = 'jwt:' + subject.replace(/[^A-Za-z0-9._@+-]/g, '_').slice(0, 64);
    return {status: 'ok', entry: {name: name, role: role}, jwt: {key: key, parts: parts}};
}

function lookup(r) {
    var header = r.headersIn['Authorization'];
    if (!header) {
        return {status: 'missing key'};
    }
    var match = BEARER.exec(header);
    if (!match) {
        return {status: 'unknown key'};
    }
    var digest = hashing.createHash('sha256').update(match[1]).digest('hex');
    if (!has(deepseek_api_keys, digest)) {
        if (deepseek_jwt.enabled && JWS.test(match[1])) {
            return jwtLookup(match[1]);
        }
        return {status: 'unknown key'};
    }
    var entry = deepseek_api_keys[digest];
    if (entry.revoked) {
        return {status: 'key revoked', entry: entry};
    }
    // A key stops working at 00:00 UTC on its expiry date.
    if (entry.expires && Date.now() >= Date.parse(entry.expires + 'T00:00:00Z')) {
        return {status: 'key expired', entry: entry};
    }
    return {status: 'ok', entry: entry};
}

// $deepseek_api_key_name: the name of a valid key ("jwt:<subject>" for a token), "" otherwise (rate-limit zones,
// the access log).
function keyName(r) {
    var found = lookup(r);
    return found.status === 'ok' ? found.entry.name : '';
}

// $deepseek_api_key_role: the role of a valid key or token, "" otherwise.
function keyRole(r) {
    var found = lookup(r);
    return found.status === 'ok' ? found.entry.role : '';
}

// $deepseek_api_key_owner: the owner of a valid key, "" otherwise (a token's subject is its own owner): the access
// log keeps it, so that usage adds up per owner even after a key is replaced or removed.
function keyOwner(r) {
    var found = lookup(r);
    return found.status === 'ok' && found.entry.owner ? found.entry.owner : '';
}

// $deepseek_key_status: why a key is refused ("missing key", "unknown key", "key revoked", "key expired", or a
// token's "token expired", "wrong token audience"...), "ok" otherwise.
function keyStatus(r) {
    return lookup(r).status;
}

// The answer of the check: the reason goes into $deepseek_auth (js_var; the subrequest shares the request's
// variables), which the 401 body and the log show.
function answer(r, code, reason) {
    r.variables.deepseek_auth = reason;
    r.return(code);
}

function permit(r, role) {
    var allowed = r.variables.deepseek_roles || '';
    if (allowed.indexOf(' ' + role + ' ') >= 0) {
        answer(r, 204, 'ok');
    } else {
        answer(r, 403, 'role ' + role + ' may not use this path');
    }
}

// The auth_request subrequest: 204 when the key or token is valid and its role may use the path, 401 for a missing,
// unknown, revoked or expired key or a token that fails a check (its signature included), 403 when the role may
// not. The API location sets $deepseek_roles (" user admin ") before the access phase; the subrequest shares the
// variables.
function authorize(r) {
    var found = lookup(r);
    if (found.status !== 'ok') {
        answer(r, 401, found.status);
        return;
    }
    if (!found.jwt) {
        permit(r, found.entry.role);
        return;
    }
    var key = found.jwt.key;
    var parts = found.jwt.parts;
    crypto.subtle.importKey('spki', Buffer.from(key.spki, 'base64'), key.params, false, ['verify'])
        .then(function (imported) {
            return crypto.subtle.verify(key.params, imported, Buffer.from(parts[2], 'base64url'), parts[0] + '.' + parts[1]);
        })
        .then(function (valid) {
            if (valid) {
                permit(r, found.entry.role);
            } else {
                answer(r, 401, 'token signature invalid');
            }
        })
        .catch(function (e) {
            r.error('onprem.deepseek gateway: token signature check failed: ' + e);
            answer(r, 401, 'token signature invalid');
        });
}

// The engine's token counts of a response, for the access log (usage accounting): the body passes on unchanged, and
// a copy of its last USAGE_TAIL characters is kept in $deepseek_usage_tail. When the response ends, the last
// "usage" object in it gives $deepseek_prompt_tokens and $deepseek_completion_tokens ("-" when there is none: a
// refused request, a stream whose client did not ask for stream_options.include_usage, an engine without it).
var USAGE_TAIL = 4096;
var PROMPT_TOKENS = /"prompt_tokens"\s*:\s*(\d+)/;
var COMPLETION_TOKENS = /"completion_tokens"\s*:\s*(\d+)/;

function usageCounts(text) {
    var at = text.lastIndexOf('"usage"');
    if (at < 0) {
        return null;
    }
    var usage = text.slice(at);
    var prompt = PROMPT_TOKENS.exec(usage);
    var completion = COMPLETION_TOKENS.exec(usage);
    return prompt ? {prompt: prompt[1], completion: completion ? completion[1] : '0'} : null;
}

function usage(r, data, flags) {
    r.sendBuffer(data, flags);
    var tail = (r.variables.deepseek_usage_tail || '') + data.toString();
    if (tail.length > USAGE_TAIL) {
        tail = tail.slice(tail.length - USAGE_TAIL);
    }
    r.variables.deepseek_usage_tail = tail;
    if (flags.last) {
        var counts = usageCounts(tail);
        if (counts) {
            r.variables.deepseek_prompt_tokens = counts.prompt;
            r.variables.deepseek_completion_tokens = counts.completion;
        }
    }
}

// GET /v1/usage (auditors and admins; the key check ran before): the usage snapshot the systemd timer writes from the
// access logs (onprem-deepseek-usage --snapshot, at $deepseek_usage_file), per day and key (by=key, the default) or
// per day and owner (by=owner), filtered by since, until (YYYY-MM-DD), key and owner.
var DAY = /^\d{4}-\d{2}-\d{2}$/;

function usageError(r, code, type, errorCode, message) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(code, JSON.stringify({error: {message: message, type: type, code: errorCode}}));
}

function usageFilter(query) {
    var by = query.by === undefined ? 'key' : query.by;
    if (by !== 'key' && by !== 'owner') {
        return {error: 'by is ' + JSON.stringify(by) + '; allowed: key, owner'};
    }
    var names = ['since', 'until'];
    for (var i = 0; i < names.length; i++) {
        if (query[names[i]] !== undefined && !DAY.test(query[names[i]])) {
            return {error: names[i] + ' is ' + JSON.stringify(query[names[i]]) + '; allowed: a day as YYYY-MM-DD'};
        }
    }
    return {by: by, since: query.since, until: query.until, key: query.key, owner: query.owner};
}

function usageRows(document, filter) {
    return document[filter.by === 'owner' ? 'owners' : 'keys'].filter(function (row) {
        return (filter.since === undefined || row.day >= filter.since) && (filter.until === undefined || row.day <= filter.until)
            && (filter.key === undefined || row.key === filter.key) && (filter.owner === undefined || row.owner === filter.owner);
    });
}

function usageReport(r) {
    if (r.method !== 'GET') {
        usageError(r, 405, 'invalid_request_error', 'method_not_allowed', 'method not allowed on this path');
        return;
    }
    // njs 0.7.6 and later decode the arguments (a repeated one is a list: refused by the checks as not one value).
    var query = {};
    for (var name in r.args) {
        query[name] = Array.isArray(r.args[name]) ? r.args[name].join(',') : r.args[name];
    }
    var filter = usageFilter(query);
    if (filter.error) {
        usageError(r, 400, 'invalid_request_error', 'bad_request', filter.error);
        return;
    }
    var document;
    try {
        document = JSON.parse(fs.readFileSync(r.variables.deepseek_usage_file));
    } catch (e) {
        r.warn('onprem.deepseek gateway: no usage snapshot to answer with: ' + e);
        usageError(r, 503, 'server_error', 'usage_unavailable', 'the usage report has not been written yet (its timer runs every few minutes)');
        return;
    }
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, JSON.stringify({object: 'usage', by: filter.by, generated: document.generated, data: usageRows(document, filter)}));
}

export default {keyName: keyName, keyRole: keyRole, keyOwner: keyOwner, keyStatus: keyStatus, authorize: authorize, usage: usage,
                usageCounts: usageCounts, usageFilter: usageFilter, usageRows: usageRows, usageReport: usageReport};
