# herald/railtie.rb -- Rails integration: settings, logger, fork safety, flushing, the view helper.
require "rails/railtie"
require_relative "view_helper"

module Herald
  # Loaded by `require "herald"` when Rails is present. Settings, each
  # source over the one before:
  #   1. HERALD_* environment variables (Herald::Config's defaults)
  #   2. config/herald.yml, the section of the current environment (ERB
  #      allowed; a `shared:` section applies to all)
  #   3. credentials: `herald: { secret: ... }` (or `herald_secret:`)
  #   4. config.herald.* in config/application.rb or config/environments/*
  # Keys are Herald::Config's settings (ingest, control, secret,
  # secret_file, gateway_url, curve_cert, curve_server, on_full, ...), plus
  # test_mode: true (Herald.test_mode!). An unknown key stops the boot
  # with Herald::ConfigError, so a typo does not go unnoticed.
  #
  # The result is applied with Herald.configure after the app's own
  # initializers (so one of them may still set config.herald.*), and is
  # the starting point of any Herald.configure block an initializer runs.
  class Railtie < ::Rails::Railtie
    config.herald = ActiveSupport::OrderedOptions.new

    initializer "herald.logger", after: :initialize_logger do
      Herald.logger = ::Rails.logger
    end

    initializer "herald.settings", before: :load_config_initializers do |app|
      settings = Herald::Railtie.settings_for(app)
      test_mode = settings.delete(:test_mode)
      Herald.defaults = settings
      Herald.test_mode! if test_mode
    end

    initializer "herald.configure", after: :load_config_initializers do |app|
      # config.herald.* set by an initializer counts too
      Herald.defaults = Herald::Railtie.settings_for(app).tap { |s| s.delete(:test_mode) }
      Herald.configure unless Herald.configured_by_app?
    end

    initializer "herald.view_helper" do
      ActiveSupport.on_load(:action_view) { include Herald::ViewHelper }
    end

    # Puma, Unicorn and Passenger workers, Spring: forget the parent's
    # sockets at once (each call would notice the fork by itself anyway).
    initializer "herald.fork" do
      ActiveSupport::ForkTracker.after_fork { Herald.after_fork! } if defined?(ActiveSupport::ForkTracker)
    end

    # Every settings source merged, as a Hash with Symbol keys.
    def self.settings_for(app)
      merged = {}
      file = app.root.join("config", "herald.yml")
      merged.merge!(s_symbolize(app.config_for(:herald))) if file.exist?
      merged.merge!(s_credentials(app))
      merged.merge!(s_symbolize(app.config.herald.to_h))
      known = Herald::Config.settings + [:test_mode]
      unknown = merged.keys - known
      unless unknown.empty?
        raise ConfigError, "herald: unknown setting#{'s' if unknown.size > 1} #{unknown.join(', ')} " \
                           "(config/herald.yml, credentials or config.herald); known: #{known.join(', ')}"
      end
      merged
    end

    def self.s_credentials(app)
      creds = app.credentials
      out = {}
      section = creds.respond_to?(:herald) ? creds.herald : nil
      out.merge!(s_symbolize(section)) if section.respond_to?(:to_h)
      secret = creds.respond_to?(:herald_secret) ? creds.herald_secret : nil
      out[:secret] ||= secret if secret
      out
    rescue StandardError => e
      raise ConfigError, "herald: cannot read Rails credentials: #{e.message}"
    end

    def self.s_symbolize(hash)
      (hash || {}).to_h.transform_keys(&:to_sym)
    end
    private_class_method :s_credentials, :s_symbolize
  end
end
