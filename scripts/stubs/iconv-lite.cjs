// Stands in for iconv-lite in the bundle (scripts/build.mjs). body-parser and raw-body require it
// when they load, but only call it to decode a charset, and the function reads bodies with
// express.raw(), which skips charsets. Leaving out its ~480 KB of tables saves cold-start time;
// if a code path ever did reach it, it fails loudly here instead of decoding wrongly.
function notBundled() {
  throw new Error('iconv-lite is not in the advance-phase bundle: bodies are read as raw bytes');
}
module.exports = { encodingExists: notBundled, decode: notBundled, getDecoder: notBundled };
