"""Real TLS material made by the tests themselves (the `cryptography` package): a CA, broker
certificates for loopback, client certificates for mTLS, PEM key stores as Kafka reads them
(`ssl.keystore.type=PEM`: key, certificate and intermediates in one file)."""
import datetime
import ipaddress
import os
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sluice Tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class Ca:
    """A certificate authority; `issue` makes leaf certificates it signs."""

    def __init__(self, directory, cn="Sluice Test CA"):
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem_path = os.path.join(directory, "ca.pem")
        with open(self.pem_path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))

    def client_context(self):
        """An `ssl.SSLContext` for a client that trusts this CA."""
        return ssl.create_default_context(cafile=self.pem_path)

    def issue(self, name, cn, server=True, password=None):
        """Key and certificate for `cn` (a server certificate for 127.0.0.1 and localhost, or a
        client one). Writes <name>.pem (key + certificate: a PEM key store), <name>.key and
        <name>.crt; returns the key store's path."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            usage = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        else:
            usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                      else serialization.NoEncryption())
        key_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8, encryption)
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        paths = {}
        for suffix, data in (("pem", key_pem + cert_pem), ("key", key_pem), ("crt", cert_pem)):
            paths[suffix] = os.path.join(self.directory, f"{name}.{suffix}")
            tmp = paths[suffix] + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, paths[suffix])
        return paths["pem"]


def served_certificate(host, port, ca_path, timeout=10.0):
    """The certificate (DER) a TLS listener serves to a new connection."""
    context = ssl.create_default_context(cafile=ca_path)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def served_certificate_cn(host, port, ca_path, timeout=10.0):
    """The common name of the certificate a TLS listener serves to a new connection."""
    cert = x509.load_der_x509_certificate(served_certificate(host, port, ca_path, timeout))
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def certificate_der(pem_path):
    """The (first) certificate of a PEM file, as DER."""
    with open(pem_path, "rb") as f:
        data = f.read()
    start = data.index(b"-----BEGIN CERTIFICATE-----")
    cert = x509.load_pem_x509_certificate(data[start:])
    return cert.public_bytes(serialization.Encoding.DER)
