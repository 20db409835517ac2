# config/application.rb -- a minimal Rails app (no database, no assets) that uses the Herald gem, for clients.ruby_rails*.
require "rails"
require "action_controller/railtie"
require "action_view/railtie"

# The gem from this checkout, as `gem "herald-notify", path: "clients/ruby"` would load it.
$LOAD_PATH.unshift File.expand_path("../../../lib", __dir__)
require "herald"

module HeraldRailsApp
  class Application < Rails::Application
    config.load_defaults 6.1
    config.root = File.expand_path("..", __dir__)
    config.eager_load = false
    config.secret_key_base = "0" * 64
    config.hosts.clear
    config.logger = Logger.new(ENV.fetch("RAILS_APP_LOG", File::NULL))
    config.active_support.deprecation = :stderr
    # Only what the app under test needs: no sessions or cookies.
    config.session_store :disabled
  end
end
