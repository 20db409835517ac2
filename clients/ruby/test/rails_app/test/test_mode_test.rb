# test/test_mode_test.rb -- the fixture app under Debian's Rails in test mode (herald.yml test_mode: true): helper and assertions.
ENV["RAILS_ENV"] = "test"
require_relative "../config/environment"
require "rails/test_help"
require "herald/test_helper"

class TestModeTest < ActionDispatch::IntegrationTest
  include Herald::TestHelper

  test "the Railtie read config/herald.yml and turned test mode on" do
    assert Herald.test_mode?, "test_mode: true in herald.yml's test section"
    assert_equal "ws://127.0.0.1:7400/ws", Herald.config.gateway_url, "the shared section's gateway_url"
  end

  test "the layout hands herald.js the gateway URL and a token for current_user" do
    get "/", params: { as: "carol" }
    assert_response :success
    url = response.body[/<meta name="herald-url" content="([^"]+)"/, 1]
    token = response.body[/<meta name="herald-token" content="([^"]+)"/, 1]
    assert_equal Herald.config.gateway_url, url, "herald-url is config.gateway_url"
    claims = JWT.decode(token, Herald::Testing::SECRET, true, algorithm: "HS256").first
    assert_equal "carol", claims["sub"], "the token is Herald.token for current_user"
    get "/"
    assert_nil response.body[/herald-token/], "no token without a user"
  end

  test "a controller action's notification is asserted, and none leaks into the next test" do
    assert_no_herald_notifications
    assert_herald_notified("carol", :bid, data: ->(d) { d["amount"] == 120 && d["vendor"] == "v7" }) do
      post "/bids", params: { customer: "carol", amount: "120", as: "v7" }
    end
    assert_response :success
    assert_no_herald_notifications { get "/" }
  end

  test "a bad recipient raises ArgumentError in the action" do
    assert_raises(ArgumentError) { post "/bids", params: { customer: "a\nb", amount: "1", as: "v7" } }
    assert_no_herald_notifications
  end
end
