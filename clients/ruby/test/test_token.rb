# test_token.rb -- Herald.token mints HS256 JWTs that the real gateway accepts.
require_relative "test_helper"

class TestToken < HeraldTestCase
  def test_token_claims
    configure_for_stack
    before = Time.now.to_i
    payload, header = JWT.decode(Herald.token("carol", ttl: 60), HeraldHarness::SECRET, true, algorithm: "HS256")
    assert_equal "HS256", header["alg"], "the token is signed with HS256"
    assert_equal "carol", payload["sub"], "sub is the user id"
    assert_operator payload["iat"], :>=, before, "iat is the time of minting"
    assert_equal payload["iat"] + 60, payload["exp"], "exp is iat + ttl"
  end

  def test_token_aud_and_iss
    configure_for_stack
    payload, = JWT.decode(Herald.token("carol", aud: "herald", iss: "shop"), HeraldHarness::SECRET, true,
                          algorithm: "HS256")
    assert_equal "herald", payload["aud"], "aud: sets the audience claim"
    assert_equal "shop", payload["iss"], "iss: sets the issuer claim"
    payload, = JWT.decode(Herald.token("carol", aud: %w[a b]), HeraldHarness::SECRET, true, algorithm: "HS256")
    assert_equal %w[a b], payload["aud"], "aud: may be an array (RFC 7519)"
    payload, = JWT.decode(Herald.token("carol"), HeraldHarness::SECRET, true, algorithm: "HS256")
    refute payload.key?("aud"), "no aud claim unless asked for"
    assert_raises(ArgumentError, "a non-string aud is refused") { Herald.token("carol", aud: 7) }
  end

  def test_gateway_refuses_token_with_unexpected_aud
    configure_for_stack
    client = WsClient.new(gateway.url, Herald.token("aud-user", aud: "elsewhere"))
    @clients = [client]
    assert_equal({ "type" => "closed", "code" => 4001 }, client.next_frame.slice("type", "code"),
                 "a gateway without --token-aud refuses a token that names an audience")
  end

  def test_token_without_secret_raises
    Herald.configure { |c| c.secret = nil }
    assert_raises(Herald::ConfigError, "no secret means no token, with a clear error") { Herald.token("carol") }
  end

  def test_gateway_accepts_token
    configure_for_stack
    user = fresh_user("tok")
    client = WsClient.new(gateway.url, Herald.token(user))
    @clients = [client]
    welcome = client.welcome
    assert_equal user, welcome["user"], "the gateway verified the token and welcomed its subject"
  end

  def test_gateway_refuses_token_signed_with_another_secret
    Herald.configure { |c| c.secret = "not-the-gateway-secret" }
    client = WsClient.new(gateway.url, Herald.token("mallory"))
    @clients = [client]
    assert_equal({ "type" => "closed", "code" => 4001 }, client.next_frame.slice("type", "code"),
                 "a token with a wrong signature is closed with 4001")
  end

  def test_gateway_refuses_expired_token
    configure_for_stack
    client = WsClient.new(gateway.url, Herald.token("late", ttl: -10))
    @clients = [client]
    assert_equal({ "type" => "closed", "code" => 4002 }, client.next_frame.slice("type", "code"),
                 "a token whose exp has passed is closed with 4002")
  end
end
