// API key check of the DeepSeek gateway (role onprem.deepseek.gateway), run by nginx's njs module.
//
// nginx preloads the key file (js_preload_object deepseek_api_keys) at configuration time: an object
// {"<SHA-256 hex of the key>": {"name", "role", "expires" (YYYY-MM-DD or null), "revoked"}}. The clear key
// exists only in the vault and in the client; here it is hashed (njs's crypto module) and looked up.
// Works with njs 0.7 (Debian 12) and 0.8 (Debian 13): no let/const-only or newer syntax is needed.

var crypto = require('crypto');

// RFC 7235: the scheme is case-insensitive; the token is an RFC 6750 bearer token, compared exactly.
var BEARER = /^bearer ([A-Za-z0-9._~+\/=-]+)$/i;

function lookup(r) {
    var header = r.headersIn['Authorization'];
    if (!header) {
        return {status: 'missing key'};
    }
    var match = BEARER.exec(header);
    if (!match) {
        return {status: 'unknown key'};
    }
    var digest = crypto.createHash('sha256').update(match[1]).digest('hex');
    if (!Object.prototype.hasOwnProperty.call(deepseek_api_keys, digest)) {
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

// $deepseek_api_key_name: the name of a valid key, "" otherwise (rate-limit zones and the access log).
function keyName(r) {
    var found = lookup(r);
    return found.status === 'ok' ? found.entry.name : '';
}

// $deepseek_api_key_role: the role of a valid key, "" otherwise.
function keyRole(r) {
    var found = lookup(r);
    return found.status === 'ok' ? found.entry.role : '';
}

// $deepseek_key_status: why a key is refused ("missing key", "unknown key", "key revoked", "key expired"),
// "ok" for a valid one; the 401 error body says it.
function keyStatus(r) {
    return lookup(r).status;
}

// The auth_request subrequest: 204 when the key is valid and its role may use the path, 401 for a
// missing, unknown, revoked or expired key, 403 when the role may not. The API location sets
// $deepseek_roles (" user admin ") before the access phase; the subrequest shares the variables.
function authorize(r) {
    var found = lookup(r);
    if (found.status !== 'ok') {
        r.return(401);
        return;
    }
    var allowed = r.variables.deepseek_roles || '';
    r.return(allowed.indexOf(' ' + found.entry.role + ' ') >= 0 ? 204 : 403);
}

export default {keyName: keyName, keyRole: keyRole, keyStatus: keyStatus, authorize: authorize};
