# app/controllers/pages_controller.rb -- the page whose layout hands herald.js its URL and token.
class PagesController < ApplicationController
  def show; end
end
