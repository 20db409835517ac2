# config/environment.rb -- boots the app.
require_relative "application"
Rails.application.initialize!
