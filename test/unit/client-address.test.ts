import assert from "node:assert/strict";
import { clientAddress, normaliseAddress } from "../../server/client-address.ts";

describe("client address", function () {
  it("is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says", function () {
    assert.equal(clientAddress("10.0.0.7", "1.2.3.4", 0), "10.0.0.7");
    assert.equal(clientAddress("10.0.0.7", undefined, 0), "10.0.0.7");
  });

  it("is the entry N hops from the right of X-Forwarded-For behind N trusted proxies", function () {
    assert.equal(clientAddress("10.0.0.1", "1.2.3.4", 1), "1.2.3.4");
    assert.equal(clientAddress("10.0.0.1", "9.9.9.9, 1.2.3.4", 1), "1.2.3.4", "a forged entry on the left is ignored");
    assert.equal(clientAddress("10.0.0.1", "9.9.9.9, 1.2.3.4, 172.16.0.2", 2), "1.2.3.4");
    assert.equal(clientAddress("10.0.0.1", ["9.9.9.9, 1.2.3.4", "5.6.7.8"], 1), "5.6.7.8", "repeated headers read as one list");
  });

  it("falls back to the peer when the header is missing, shorter than the hops, or its entry is no address", function () {
    assert.equal(clientAddress("10.0.0.1", undefined, 1), "10.0.0.1");
    assert.equal(clientAddress("10.0.0.1", null, 1), "10.0.0.1");
    assert.equal(clientAddress("10.0.0.1", "", 1), "10.0.0.1");
    assert.equal(clientAddress("10.0.0.1", "1.2.3.4", 2), "10.0.0.1");
    assert.equal(clientAddress("10.0.0.1", "unknown", 1), "10.0.0.1");
  });

  it("is undefined when neither the peer nor the header gives an address", function () {
    assert.equal(clientAddress(undefined, undefined, 0), undefined);
    assert.equal(clientAddress("", "1.2.3.4", 0), undefined);
    assert.equal(clientAddress(undefined, "1.2.3.4", 2), undefined);
  });

  it("spells each address one way: IPv4-mapped IPv6 as IPv4, IPv6 in lower case, without brackets or port", function () {
    assert.equal(clientAddress("::ffff:1.2.3.4", undefined, 0), "1.2.3.4");
    assert.equal(clientAddress("::1", "::FFFF:5.6.7.8", 1), "5.6.7.8");
    assert.equal(normaliseAddress("2001:DB8::1"), "2001:db8::1");
    assert.equal(normaliseAddress("[2001:db8::1]:443"), "2001:db8::1");
    assert.equal(normaliseAddress("[2001:db8::1]"), "2001:db8::1");
    assert.equal(normaliseAddress("1.2.3.4:5678"), "1.2.3.4");
    assert.equal(normaliseAddress(" 1.2.3.4 "), "1.2.3.4");
  });

  it("refuses what is not an IP address", function () {
    for (const raw of ["", "unknown", "example.com", "1.2.3", "999.1.1.1", "1.2.3.4.5", "::ffff:999.1.1.1", "[1.2.3.4]x"]) {
      assert.equal(normaliseAddress(raw), undefined, raw);
    }
  });
});
