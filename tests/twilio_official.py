"""The mock provider against Twilio's official Python library.

Starts `otpbench provider` (the binary given as the first argument) on a
free loopback port, sends through twilio-python with only the base URL
changed, and checks what the library parsed and what the provider
journaled. Run by .ci/run; exits non-zero on any failure.
"""
import json
import subprocess
import sys
import urllib.request

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

binary = sys.argv[1]
provider = subprocess.Popen([binary, "provider", "--listen", "127.0.0.1:0"],
                            stderr=subprocess.PIPE, text=True)
try:
    line = provider.stderr.readline()
    base = "http://" + line.split("http://")[1].split()[0]

    class Local(TwilioHttpClient):
        """Sends the library's requests to the mock provider."""
        def request(self, method, url, *args, **kwargs):
            return super().request(method, url.replace("https://api.twilio.com", base), *args, **kwargs)

    client = Client("AC0123456789abcdef0123456789abcdef", "auth-token", http_client=Local())
    sms = client.messages.create(to="+14155550100", from_="+15005550006", body="Your code is 482913")
    assert sms.sid.startswith("SM") and len(sms.sid) == 34, sms.sid
    assert sms.status == "queued", sms.status
    assert (sms.to, sms.from_, sms.body) == ("+14155550100", "+15005550006", "Your code is 482913")
    assert sms.date_created is not None and sms.direction == "outbound-api"

    wa = client.messages.create(to="whatsapp:+14155550101", from_="whatsapp:+15005550006", body="hi")
    assert wa.status == "queued"

    try:
        client.messages.create(to="+14155550102", from_="+15005550006", body="")
        raise AssertionError("an empty body was accepted")
    except TwilioRestException as error:
        assert (error.status, error.code) == (400, 21602), (error.status, error.code)

    with urllib.request.urlopen(base + "/_admin/messages") as reply:
        messages = json.load(reply)["messages"]
    assert [(m["channel"], m["to"], m["text"]) for m in messages] == [
        ("sms", "+14155550100", "Your code is 482913"),
        ("whatsapp", "+14155550101", "hi"),
    ], messages
    print("twilio-python against the mock provider: all 4 checks hold")
finally:
    provider.terminate()
    provider.wait(timeout=10)
