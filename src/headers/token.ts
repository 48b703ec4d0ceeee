/**
 * RFC 9110 §5.6.2 `token`: what a header field name (§5.1) and a cookie name (RFC 6265
 * §4.1.1) may consist of. One pattern for every check, so the rules cannot drift apart.
 */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
